"""A batch of QA call scripts run in-process by the QA runner (`calls run` without --url).

    .venv/bin/python benchmarks/qa_batch.py [--calls 500] [--jobs CPUs] [--threads]
                                            [--backend sqlite|postgresql]

It runs benchmarks/calls/balance_family.yaml `--calls` times as `calls run` does in-process:
in `--jobs` worker processes, each building its own app (their start-up is timed too), or
with --threads on threads of this process (as `calls run` did before), against a fresh
SQLite (or --backend postgresql) database with the demo accounts, and reports complete
calls per second. PINs are hashed as in production (keyed HMAC): see the README.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_servers import PIN_SETTINGS, database, load_demo  # noqa: E402

from ivr import create_app  # noqa: E402
from ivr.qa.load import load_scripts  # noqa: E402
from ivr.qa.model import Outcome, Script, ScriptResult  # noqa: E402
from ivr.qa.pool import run_processes, run_threads  # noqa: E402
from ivr.qa.targets import IN_PROCESS_SETTINGS, in_process_dialer  # noqa: E402

SCRIPT = HERE / "calls" / "balance_family.yaml"


def run_batch(calls: int, jobs: int, *, threads: bool = False,
              backend: str = "sqlite") -> dict[str, object]:  # fmt: skip
    """Run the script `calls` times in `jobs` processes (or threads); rates and failures."""
    (script,) = load_scripts([SCRIPT])
    with database(backend) as url:
        load_demo(url)  # before any worker opens the database
        # What `calls run` sets for its in-process app, on this database, in say mode.
        config = {**IN_PROCESS_SETTINGS, "IVR_SPEECH": "say", "IVR_DATABASE_URL": url,
                  "IVR_AUTH_TOKEN": "bench-token", **PIN_SETTINGS}  # fmt: skip
        started = time.perf_counter()
        results = _run([script] * calls, config, jobs, threads)
        seconds = time.perf_counter() - started
    failed = [r for r in results if r.outcome != Outcome.PASSED]
    return {"calls": calls, "jobs": jobs, "seconds": round(seconds, 2),
            "calls_per_s": round(calls / seconds, 1), "failed": len(failed),
            "pin_hash": "keyed",
            "workers": "threads" if threads else "processes", "backend": backend,
            "first_failure": failed[0].failure if failed else None}  # fmt: skip


def _run(scripts: list[Script], config: dict[str, object], jobs: int,
         threads: bool) -> list[ScriptResult]:  # fmt: skip
    """The batch in worker processes, or on threads sharing one app built beforehand."""
    if not threads:
        return run_processes(scripts, config, create_app, jobs, False, lambda _r: None)
    app = create_app(config)
    try:
        return run_threads(scripts, in_process_dialer(app), jobs, False, lambda _r: None)
    finally:
        app.extensions["ivr"].engine.dispose()


def main() -> int:
    """Run one batch and print its rate."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="Worker processes (or threads) [the number of CPUs].")  # fmt: skip
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="PostgreSQL is IVR_BENCH_PG_URL (see bench_servers.py).")  # fmt: skip
    parser.add_argument("--threads", action="store_true",
                        help="Threads of one process, as calls run did before.")  # fmt: skip
    args = parser.parse_args()
    summary = run_batch(args.calls, args.jobs, threads=args.threads, backend=args.backend)
    print(summary)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
