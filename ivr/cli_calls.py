"""`calls run`: QA call scripts in batches, in-process or against any deployed hotline."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ivr.app import hotline
from ivr.cli_records import add_record_commands
from ivr.cli_targets import (
    AUTH_TOKEN_ENV,
    IN_PROCESS_VOICE,
    in_process_app,
    status_url,
    voice_url,
)
from ivr.errors import IvrError
from ivr.menu_load import load_menu
from ivr.script_coverage import Coverage, coverage
from ivr.script_load import load_scripts, read_env_file
from ivr.script_model import Outcome, Script, ScriptResult
from ivr.script_report import transcript_text, write_html, write_json, write_junit
from ivr.script_run import run_script
from ivr.simulator import Caller, FlaskTransport, HttpTransport
from ivr.twiml_schema import find_default

console = Console()
STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "red", Outcome.ERROR: "bold red",
         Outcome.SKIPPED: "yellow"}  # fmt: skip
Dialer = Callable[[Script], Caller]


@click.group("calls")
def calls() -> None:
    """QA call scripts (run) and the recorded calls of the hotline (list, show)."""


def _variables(pairs: Sequence[str], env_file: Path | None) -> dict[str, str]:
    """Variables from --env-file, then --var KEY=VALUE (the later wins)."""
    values = read_env_file(env_file) if env_file else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise click.BadParameter(f"{key!r} is not KEY=VALUE with KEY a name like PIN",
                                     param_hint="--var")  # fmt: skip
        values[key.strip()] = value
    return values


def _in_process_dialer(app: Flask) -> Dialer:
    """Callers that reach the app in this process, signed with its token when it has one."""
    token = app.config.get("IVR_AUTH_TOKEN") or None
    schema = find_default()
    status = status_url(IN_PROCESS_VOICE)

    def dial(script: Script) -> Caller:
        """A fresh caller (a test client per call, so threads never share one)."""
        return Caller(FlaskTransport(app), auth_token=token, from_=script.caller, schema=schema,
                      status_callback=status)  # fmt: skip

    return dial


def _http_dialer(base: str, token: str | None) -> Dialer:
    """Callers that reach a deployed hotline at BASE/voice, as Twilio would."""
    schema = find_default()
    voice = voice_url(base)

    def dial(script: Script) -> Caller:
        """A fresh caller with a CallSid of its own; its end reaches the status callback."""
        sid = "CA" + secrets.token_hex(16)
        return Caller(HttpTransport(), voice_url=voice, auth_token=token, from_=script.caller,
                      schema=schema, call_sid=sid, status_callback=status_url(voice))  # fmt: skip

    return dial


def run_all(scripts: Sequence[Script], dial: Dialer, jobs: int, fail_fast: bool,
            advance: Callable[[ScriptResult], None]) -> list[ScriptResult]:  # fmt: skip
    """Run scripts on `jobs` threads; with fail_fast, start no new script after a failure."""
    results: dict[int, ScriptResult] = {}
    pending = list(enumerate(scripts))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: dict[Future[ScriptResult], int] = {}
        while pending or running:
            stop = fail_fast and any(r.outcome != Outcome.PASSED for r in results.values())
            while pending and len(running) < jobs and not stop:
                index, script = pending.pop(0)
                running[pool.submit(lambda s=script: run_script(s, dial(s)))] = index
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                results[index] = result = _result_of(future, scripts[index])
                advance(result)
    skipped = "not run: --fail-fast stopped the batch after a failure"
    return [results.get(i) or ScriptResult(s, Outcome.SKIPPED, failure=skipped)
            for i, s in enumerate(scripts)]  # fmt: skip


def _result_of(future: Future[ScriptResult], script: Script) -> ScriptResult:
    """A finished script's result; a crash in the runner is that script's error, not the run's."""
    try:
        return future.result()
    except Exception as exc:  # one broken call must not lose the other scripts' reports
        return ScriptResult(script, Outcome.ERROR, failure=f"the runner failed: {exc!r}")


@calls.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--url", help="Base URL of a deployed hotline (calls BASE/voice) [in-process].")
@click.option("--auth-token", envvar=AUTH_TOKEN_ENV, show_envvar=True,
              help="Twilio auth token to sign with.")  # fmt: skip
@click.option("--jobs", "-j", default=4, show_default=True, type=click.IntRange(1, 200),
              help="Calls in parallel.")  # fmt: skip
@click.option("--tag", "tags", multiple=True, help="Run only scripts with this tag (repeatable).")
@click.option("--var", "pairs", multiple=True, help="KEY=VALUE for ${KEY} in scripts.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file of KEY=VALUE lines for ${KEY}.")  # fmt: skip
@click.option("--menu", "menu_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The menu YAML to measure coverage against [the app's IVR_MENU].")  # fmt: skip
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write HTML.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON report.")  # fmt: skip
@click.option("--fail-fast", is_flag=True, help="Start no new script after the first failure.")
@with_appcontext
def run_command(paths: tuple[Path, ...], url: str | None, auth_token: str | None, jobs: int,
                tags: tuple[str, ...], pairs: tuple[str, ...], env_file: Path | None,
                menu_file: Path | None, junit: Path | None, html: Path | None,
                json_file: Path | None, fail_fast: bool) -> None:  # fmt: skip
    """Run the call scripts in PATHS (files or folders), then report and exit 1 on failure."""
    try:
        scripts = load_scripts(list(paths), _variables(pairs, env_file))
        menu = load_menu(menu_file) if menu_file else hotline().menu
    except IvrError as exc:  # every broken script, with file and line, before any call
        raise click.ClickException(str(exc)) from None
    chosen = [s for s in scripts if not tags or set(tags) & set(s.tags)]
    if not chosen:
        raise click.ClickException(f"no script matches --tag {', '.join(tags)}")
    if url:
        voice_url(url)  # a bad URL is refused before any call
    target = None if url else in_process_app()
    try:
        dial = _in_process_dialer(target) if target else _http_dialer(url or "", auth_token)
        results = _run_with_progress(chosen, dial, jobs, fail_fast)
    finally:
        if target is not None:  # its own engine: close its connections now, not at exit
            target.extensions["ivr"].engine.dispose()
    measured = coverage(menu, [r.transcript for r in results])
    _summarise(results, measured, url or "in-process app")
    _write_reports(results, measured, junit, html, json_file)
    if any(r.outcome != Outcome.PASSED for r in results):
        raise SystemExit(1)


def _run_with_progress(scripts: Sequence[Script], dial: Dialer, jobs: int,
                       fail_fast: bool) -> list[ScriptResult]:  # fmt: skip
    """run_all with a progress bar."""
    columns = (TextColumn("Calling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("calls", total=len(scripts))
        return run_all(scripts, dial, jobs, fail_fast, lambda _r: progress.advance(task))


def _summarise(results: Sequence[ScriptResult], measured: Coverage, target: str) -> None:
    """The failures' transcripts, the summary table and the coverage, on the terminal."""
    for result in results:
        if result.outcome in (Outcome.FAILED, Outcome.ERROR):
            console.rule(f"[red]{escape(result.script.name)}[/] ({result.script.path})")
            console.print(escape(transcript_text(result)), soft_wrap=True)
    table = Table(title=f"{len(results)} call scripts against {escape(target)}")
    for column in ("script", "result", "steps", "slowest ms", "end state"):
        table.add_column(column, justify="right" if column in ("steps", "slowest ms") else "left")
    for r in results:
        slowest = f"{r.slowest_ms:.1f}" if r.slowest_ms is not None else "-"
        table.add_row(escape(r.script.name), f"[{STYLE[r.outcome]}]{r.outcome}[/]",
                      str(len(r.steps)), slowest, str(r.end_state or "-"))  # fmt: skip
    console.print(table)
    counts = {o: sum(r.outcome == o for r in results) for o in Outcome}
    console.print(", ".join(f"[{STYLE[o]}]{n} {o}[/]" for o, n in counts.items()))
    unreached = ", ".join(measured.unreached) or "none"
    console.print(f"Menu coverage: {measured.percent:.0f}% of paths; never reached: {unreached}")


def _write_reports(results: Sequence[ScriptResult], measured: Coverage, junit: Path | None,
                   html: Path | None, json_file: Path | None) -> None:  # fmt: skip
    """Write the reports asked for (making their folders), and say where they went."""
    writers = ((junit, lambda p: write_junit(results, p)),
               (html, lambda p: write_html(results, measured, p)),
               (json_file, lambda p: write_json(results, measured, p)))  # fmt: skip
    for path, write in writers:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        except OSError as exc:
            raise click.ClickException(f"{path}: {exc.strerror or exc}") from None
        console.print(f"Report: {escape(str(path))}")


add_record_commands(calls)
