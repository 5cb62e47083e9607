"""`calls run`: QA call scripts in batches, in-process or against any deployed hotline."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ivr.cli.records import add_record_commands
from ivr.cli.sweep import sweep_calls
from ivr.cli.targets import in_process_app, in_process_config
from ivr.errors import IvrError
from ivr.menu.load import load_menu
from ivr.qa.coverage import Coverage, coverage
from ivr.qa.load import load_scripts, read_env_file
from ivr.qa.model import Outcome, Script, ScriptResult
from ivr.qa.pool import process_safe, run_processes, run_threads
from ivr.qa.report import transcript_text, write_html, write_json, write_junit
from ivr.qa.targets import (
    AUTH_TOKEN_ENV,
    Dialer,
    http_dialer,
    in_process_dialer,
    voice_url,
)
from ivr.web.context import hotline
from store.pins import HOW_TO

console = Console()
STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "red", Outcome.ERROR: "bold red",
         Outcome.SKIPPED: "yellow"}  # fmt: skip
HTTP_JOBS = 4  # calls to a deployed hotline wait on the network, not on this machine's CPUs


@click.group("calls")
def calls() -> None:
    """QA call scripts (run) and the recorded calls of the hotline (list, show, sweep)."""


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


def run_all(scripts: Sequence[Script], dial: Dialer, jobs: int, fail_fast: bool,
            advance: Callable[[ScriptResult], None]) -> list[ScriptResult]:  # fmt: skip
    """Run scripts on `jobs` threads; with fail_fast, start no new script after a failure."""
    return run_threads(scripts, dial, jobs, fail_fast, advance)


@calls.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--url", help="Base URL of a deployed hotline (calls BASE/voice) [in-process].")
@click.option("--auth-token", envvar=AUTH_TOKEN_ENV, show_envvar=True,
              help="Twilio auth token to sign with.")  # fmt: skip
@click.option("--jobs", "-j", type=click.IntRange(1, 200),
              help="Calls at a time. In-process: worker processes, each with its own app "
                   "(Python runs one thread at a time per process) [the number of CPUs; 1 "
                   f"runs in this process]. With --url: threads [{HTTP_JOBS}].")  # fmt: skip
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
@click.option("--no-fallback", "no_fallback", is_flag=True,
              help="Test the primary webhooks alone: a failed request ends the call, as "
                   "with no fallback URL [failures go on to BASE/voice/fallback].")  # fmt: skip
@with_appcontext
def run_command(paths: tuple[Path, ...], url: str | None, auth_token: str | None, jobs: int | None,
                tags: tuple[str, ...], pairs: tuple[str, ...], env_file: Path | None,
                menu_file: Path | None, junit: Path | None, html: Path | None,
                json_file: Path | None, fail_fast: bool, no_fallback: bool) -> None:  # fmt: skip
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
    elif hotline().pins is None:  # in-process calls check PINs against this database
        raise click.ClickException(f"the in-process hotline has no PIN key; {HOW_TO}")
    results = _run_with_progress(chosen, url, auth_token, jobs, fail_fast, not no_fallback)
    measured = coverage(menu, [r.transcript for r in results])
    _summarise(results, measured, url or "in-process app")
    _write_reports(results, measured, junit, html, json_file)
    if any(r.outcome != Outcome.PASSED for r in results):
        raise SystemExit(1)


def _run_with_progress(scripts: Sequence[Script], url: str | None, token: str | None,
                       jobs: int | None, fail_fast: bool,
                       fallback: bool = True) -> list[ScriptResult]:  # fmt: skip
    """Run the scripts with a progress bar that advances as each call finishes."""
    columns = (TextColumn("Calling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # Redrawn as each call ends, with no refresh thread: worker processes can then be forked
    # from a process that runs one thread (see script_pool.start_method).
    with Progress(*columns, console=console, transient=True, auto_refresh=False) as progress:
        task = progress.add_task("calls", total=len(scripts))

        def advance(_result: ScriptResult) -> None:
            """One more call done."""
            progress.advance(task)
            progress.refresh()

        if url:
            dial = http_dialer(url, token, fallback)
            return run_threads(scripts, dial, jobs or HTTP_JOBS, fail_fast, advance)
        return _run_in_process(scripts, jobs or _cpus(), fail_fast, advance, fallback)


def _run_in_process(scripts: Sequence[Script], jobs: int, fail_fast: bool,
                    advance: Callable[[ScriptResult], None],
                    fallback: bool = True) -> list[ScriptResult]:  # fmt: skip
    """Worker processes with an app each, or this process's threads when they cannot be."""
    config = in_process_config()
    why = process_safe(config) if jobs > 1 and len(scripts) > 1 else "one at a time"
    if not why:
        return run_processes(scripts, config, hotline().factory, jobs, fail_fast, advance,
                             fallback)  # fmt: skip
    if jobs > 1 and len(scripts) > 1:
        console.print(f"[yellow]Running on threads, not processes: {escape(why)}[/]")
    target = in_process_app()
    try:
        return run_threads(scripts, in_process_dialer(target, fallback), jobs, fail_fast, advance)
    finally:  # its own engine: close its connections now, not at exit
        target.extensions["ivr"].engine.dispose()


def _cpus() -> int:
    """The CPUs this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


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
calls.add_command(sweep_calls)
