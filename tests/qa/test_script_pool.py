"""`calls run` in worker processes: the same results, order and reports as on threads."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete

from ivr import create_app
from ivr.qa import pool as script_pool
from ivr.qa.coverage import coverage
from ivr.qa.load import load_scripts
from ivr.qa.model import Outcome, Script, ScriptResult
from ivr.qa.pool import process_safe, run_processes, run_threads
from ivr.qa.report import write_html, write_json, write_junit
from ivr.qa.targets import IN_PROCESS_SETTINGS, in_process_dialer
from store.import_apply import import_data
from store.importer import PreparedImport
from store.models import Base
from tests.cli.test_cli_calls import CALLS, FAILING

# What differs from run to run whatever runs the calls: times, durations and call SIDs.
VOLATILE = re.compile(
    r"(?:CA|AC)[0-9a-f]{32}|\d+\.\d+|\d{4}-\d\d-\d\dT[\d:.+]+|"
    r'"(?:seconds|elapsed_ms|slowest_ms|time|timestamp)": [^,}\n]+|'
    r'\b(?:time|timestamp)="[^"]*"'
)


@pytest.fixture(params=["fork", "forkserver"])
def start(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How workers start: forked from this process, or from a fork server."""
    monkeypatch.setattr(script_pool, "start_method", lambda: request.param)
    return request.param


def config_of(app: Flask) -> dict[str, object]:
    """The settings `calls run` gives its in-process app."""
    return {**app.config, **IN_PROCESS_SETTINGS}


def fresh_demo(app: Flask, demo: PreparedImport) -> None:
    """Empty the database and load the demo accounts again (a second run starts equal)."""
    with app.extensions["ivr"].sessions() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))
        session.commit()
        import_data(session, demo)


def on_threads(app: Flask, scripts: list[Script]) -> list[ScriptResult]:
    """The batch on threads of this process, sharing the test's app, as before processes."""
    return run_threads(scripts, in_process_dialer(app), 2, False, lambda _r: None)


def reports(app: Flask, results: list[ScriptResult], folder: Path) -> dict[str, str]:
    """The JUnit, JSON and HTML reports of a run, with what varies by run blanked out."""
    folder.mkdir()
    measured = coverage(app.extensions["ivr"].menu, [r.transcript for r in results])
    write_junit(results, folder / "junit.xml")
    write_json(results, measured, folder / "r.json")
    write_html(results, measured, folder / "r.html")
    return {name: VOLATILE.sub("~", (folder / name).read_text(encoding="utf-8"))
            for name in ("junit.xml", "r.json", "r.html")}  # fmt: skip


def summary(result: ScriptResult) -> tuple:
    """What a result says, without times and SIDs."""
    steps = [(s.step.line, s.ok, s.heard, s.message) for s in result.steps]
    heard = [(t.kind, t.text, t.status) for t in result.transcript]
    return (result.script.name, result.outcome, result.failure, result.end_state, steps, heard)


def test_processes_give_the_threads_results_and_reports(app, demo_prepared, tmp_path,
                                                         start) -> None:  # fmt: skip
    scripts = load_scripts([CALLS])
    threaded = on_threads(app, scripts)
    fresh_demo(app, demo_prepared)
    advanced: list[ScriptResult] = []
    forked = run_processes(scripts, config_of(app), create_app, 2, False, advanced.append)
    assert [r.outcome for r in forked] == [Outcome.PASSED] * len(scripts)
    assert [r.script for r in forked] == scripts  # in the order given, the caller's objects
    assert [summary(r) for r in forked] == [summary(r) for r in threaded]
    assert sorted(map(id, advanced)) == sorted(map(id, forked))  # once per finished script
    assert reports(app, forked, tmp_path / "p") == reports(app, threaded, tmp_path / "t")


def write_failing(folder: Path, names: str) -> list[Script]:
    """One failing script per letter in `names`, loaded."""
    for name in names:
        (folder / f"{name}.yaml").write_text(FAILING, encoding="utf-8")
    return load_scripts([folder])


def test_a_failure_in_a_worker_is_reported_as_on_threads(app, demo_prepared, tmp_path) -> None:
    scripts = write_failing(tmp_path, "a")
    (threaded,) = on_threads(app, scripts)
    fresh_demo(app, demo_prepared)
    (forked,) = run_processes(scripts, config_of(app), create_app, 2, False, lambda _r: None)
    assert forked.outcome == Outcome.FAILED and "这句话不会出现" in forked.failure
    assert summary(forked) == summary(threaded)


def test_fail_fast_in_processes_starts_nothing_after_a_failure(app, tmp_path, start) -> None:
    scripts = write_failing(tmp_path, "abcde")
    results = run_processes(scripts, config_of(app), create_app, 2, True, lambda _r: None)
    # Two workers take the first two scripts; both fail, so no third one is started.
    outcomes = [r.outcome for r in results]
    assert outcomes == [Outcome.FAILED] * 2 + [Outcome.SKIPPED] * 3
    assert all("--fail-fast" in r.failure for r in results[2:])


def die(_index: int) -> None:
    """A worker that dies in the middle of a script."""
    os._exit(3)


def test_a_dead_worker_errs_its_scripts_and_the_run_goes_on(app, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(script_pool, "start_method", lambda: "fork")  # the child sees `die`
    monkeypatch.setattr(script_pool, "_run_one", die)
    scripts = write_failing(tmp_path, "abcd")
    results = run_processes(scripts, config_of(app), create_app, 2, False, lambda _r: None)
    assert [r.outcome for r in results] == [Outcome.ERROR] * 4
    assert all("the runner failed: BrokenProcessPool" in r.failure for r in results)


def test_a_worker_whose_app_cannot_start_errs_every_script(app, tmp_path) -> None:
    scripts = write_failing(tmp_path, "ab")
    broken = {**config_of(app), "IVR_LOG_FORMAT": "xml"}
    results = run_processes(scripts, broken, create_app, 2, False, lambda _r: None)
    assert [r.outcome for r in results] == [Outcome.ERROR] * 2
    assert all("did not start in a worker process" in r.failure for r in results)
    assert all("IVR_LOG_FORMAT" in r.failure for r in results)


@pytest.mark.parametrize(
    ("setting", "why"),
    [({"IVR_DATABASE_URL": "sqlite://"}, "in-memory SQLite"),
     ({"IVR_CLOCK": lambda: None}, "cannot be sent to another process")],
)  # fmt: skip
def test_what_cannot_go_to_processes_is_named(app, setting, why) -> None:
    assert process_safe(config_of(app)) == ""
    assert why in process_safe({**config_of(app), **setting})


def test_workers_fork_only_from_a_process_running_one_thread() -> None:
    assert script_pool.start_method() == "fork"  # pytest runs the tests on one thread
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert script_pool.start_method() == "forkserver"
    finally:
        stop.set()
        other.join()
