"""Run a batch of call scripts in parallel: threads, or worker processes with an app each."""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.util import Finalize
from typing import Any

from flask import Flask
from sqlalchemy import make_url

from ivr.qa.model import Outcome, Script, ScriptResult
from ivr.qa.run import run_script
from ivr.qa.targets import Dialer, in_process_dialer

Advance = Callable[[ScriptResult], None]
Factory = Callable[[Mapping[str, Any]], Flask]  # the app factory (ivr.create_app)
SKIPPED = "not run: --fail-fast stopped the batch after a failure"
# What the fork server imports once before it forks each worker, so that a worker starts
# without importing Flask, SQLAlchemy, lxml and the menu's modules again.

# One worker process's own state, set by _start_worker.
_worker: dict[str, Any] = {}


def schedule(scripts: Sequence[Script], submit: Callable[[int], Future[ScriptResult]],
             window: int, fail_fast: bool, advance: Advance) -> list[ScriptResult]:  # fmt: skip
    """Keep `window` scripts running; with fail_fast, start none after a failure; in order."""
    results: dict[int, ScriptResult] = {}
    pending = list(range(len(scripts)))
    pending.reverse()  # popped from the end: first script first
    running: dict[Future[ScriptResult], int] = {}
    failed = False
    while pending or running:
        while pending and len(running) < window and not (fail_fast and failed):
            index = pending.pop()
            running[submit(index)] = index
        if not running:
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in sorted(done, key=running.__getitem__):
            index = running.pop(future)
            results[index] = result = _result_of(future, scripts[index])
            failed = failed or result.outcome != Outcome.PASSED
            advance(result)
    return [results.get(i) or ScriptResult(s, Outcome.SKIPPED, failure=SKIPPED)
            for i, s in enumerate(scripts)]  # fmt: skip


def _result_of(future: Future[ScriptResult], script: Script) -> ScriptResult:
    """A finished script's result; a crash in the runner is that script's error, not the run's."""
    try:
        result = future.result()
    except Exception as exc:  # one broken call must not lose the other scripts' reports
        return ScriptResult(script, Outcome.ERROR, failure=f"the runner failed: {exc!r}")
    result.script = script  # the caller's own object, not a worker's unpickled copy
    return result


def run_threads(scripts: Sequence[Script], dial: Dialer, jobs: int, fail_fast: bool,
                advance: Advance) -> list[ScriptResult]:  # fmt: skip
    """Run scripts on `jobs` threads of this process, each call with a caller of its own."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        submit = lambda i: pool.submit(lambda s=scripts[i]: run_script(s, dial(s)))  # noqa: E731
        return schedule(scripts, submit, jobs, fail_fast, advance)


def run_processes(scripts: Sequence[Script], config: Mapping[str, Any], factory: Factory,
                  jobs: int, fail_fast: bool, advance: Advance,
                  fallback: bool = True) -> list[ScriptResult]:  # fmt: skip
    """Run scripts in `jobs` worker processes, each with its own app: `factory(config)`;
    `fallback` as in_process_dialer.

    The database must be ready (migrated, loaded) before: every worker opens its own engine
    on it. A worker starts the next script as soon as it sends a result; with fail_fast,
    only `jobs` are ever handed out, so none starts after a failure is seen.
    """
    context = multiprocessing.get_context(start_method())
    if context.get_start_method() == "forkserver":
        # The fork server imports the app once; each worker it forks starts warm.
        context.set_forkserver_preload([factory.__module__, __name__])
    workers = max(1, min(jobs, len(scripts)))
    with ProcessPoolExecutor(workers, context, initializer=_start_worker,
                             initargs=(dict(config), factory, list(scripts), fallback),
                             ) as pool:  # fmt: skip
        submit = lambda i: _submit(pool, i)  # noqa: E731
        window = workers if fail_fast else 2 * workers  # no worker idles between scripts
        return schedule(scripts, submit, window, fail_fast, advance)


def _submit(pool: ProcessPoolExecutor, index: int) -> Future[ScriptResult]:
    """Hand a script to the workers; once one has died, a future holding why."""
    try:
        return pool.submit(_run_one, index)
    except BrokenProcessPool as exc:  # each script left is reported, not the run crashed
        future: Future[ScriptResult] = Future()
        future.set_exception(exc)
        return future


def start_method() -> str:
    """fork while this process runs one thread, else a fork server's clean process.

    A fork copies what this process has imported (over a second of CPU saved per batch),
    but a thread running during the fork may hold a lock the child then never sees freed.
    """
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "forkserver"


def _start_worker(config: dict[str, Any], factory: Factory, scripts: list[Script],
                  fallback: bool = True) -> None:  # fmt: skip
    """Build this worker's app and dialer once; a failure is reported by every script."""
    _worker["scripts"] = scripts
    try:
        app = factory(config)
    except Exception as exc:  # each script then says why, instead of a broken pool
        _worker["error"] = f"the in-process app did not start in a worker process: {exc}"
        return
    _worker["dial"] = in_process_dialer(app, fallback)
    # Close the worker's database connections when it exits, not by dropping them.
    Finalize(app, app.extensions["ivr"].engine.dispose, exitpriority=10)


def _run_one(index: int) -> ScriptResult:
    """Run one script of the batch in this worker."""
    if "error" in _worker:
        raise RuntimeError(_worker["error"])
    script = _worker["scripts"][index]
    return run_script(script, _worker["dial"](script))


def process_safe(config: Mapping[str, Any]) -> str:
    """Why the app's settings cannot go to worker processes, or an empty string."""
    url = make_url(str(config.get("IVR_DATABASE_URL", "")))
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return "an in-memory SQLite database exists in one process only"
    try:
        pickle.dumps(dict(config))
    except Exception as exc:  # e.g. a clock or a synthesizer that is a local object
        return f"a setting cannot be sent to another process ({exc})"
    return ""
