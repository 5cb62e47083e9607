"""Measure one complete demo call, step by step, in-process (no HTTP server).

    .venv/bin/python benchmarks/inprocess_call.py [--calls N] [--json FILE]

The call: welcome -> 2 -> ID -> PIN -> balance -> 家庭共济 -> hang up, on a fresh SQLite
file with the demo accounts. PIN hashing (scrypt) is measured on its own: it is slow on
purpose and runs only on the PIN step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench_servers import database, load_demo
from rich.console import Console
from rich.table import Table
from werkzeug.security import check_password_hash

from ivr import create_app
from ivr.simulator import Caller, FlaskTransport
from store.demo import WANG_JIANGUO
from store.lockout import hash_pin

STEPS = [
    ("welcome", lambda c: c.dial()),
    ("menu key", lambda c: c.press("2")),
    ("ID entry", lambda c: c.press(WANG_JIANGUO[:-1] + "*#")),
    ("PIN check", lambda c: c.press("135790#")),
    ("balance", lambda c: c.press("1")),
    ("family", lambda c: c.press("2")),
]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(calls: int, overrides: dict[str, str] | None = None) -> dict[str, object]:
    """Drive `calls` complete calls and time each step (IVR_* settings in `overrides`)."""
    with database("sqlite") as url:
        load_demo(url, fast_pins=False)
        config = {"IVR_DATABASE_URL": url, "IVR_AUTH_TOKEN": "bench-token", "IVR_SPEECH": "say",
                  # The limits are checked on every step, as deployed, but never reached: every
                  # call of the run comes from one number and one address.
                  "IVR_RATE_LIMIT_CALLER": "1000000/minute",
                  "IVR_RATE_LIMIT_ADDRESS": "1000000/second",
                  "IVR_REQUEST_LOG": False}  # fmt: skip
        app = create_app({**config, **(overrides or {})})
        hotline = app.extensions["ivr"]
        timings: dict[str, list[float]] = {name: [] for name, _ in STEPS}
        started = time.perf_counter()
        for _ in range(calls):
            # Twilio fetches <Play> audio on its own, after the webhook answered: not timed here.
            caller = Caller(FlaskTransport(app), auth_token="bench-token", fetch_audio=False)
            for name, action in STEPS:
                t0 = time.perf_counter()
                action(caller)
                timings[name].append((time.perf_counter() - t0) * 1000)
            caller.hangup()
        elapsed = time.perf_counter() - started
        hotline.engine.dispose()
    return {"calls": calls, "seconds": elapsed, "calls_per_second": calls / elapsed,
            "steps_ms": {name: {"p50": percentile(v, 50), "p95": percentile(v, 95),
                                "mean": statistics.fmean(v)} for name, v in timings.items()},
            "pin_hash_ms": hash_cost()}  # fmt: skip


def hash_cost(rounds: int = 10) -> float:
    """Milliseconds for one scrypt PIN check."""
    hashed = hash_pin("135790")
    t0 = time.perf_counter()
    for _ in range(rounds):
        check_password_hash(hashed, "135790")
    return (time.perf_counter() - t0) * 1000 / rounds


def main() -> None:
    """Run, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="complete calls to drive")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = run(args.calls)
    table = Table(title=f"{args.calls} in-process calls, SQLite, signed requests")
    for column in ("step", "p50 ms", "p95 ms", "mean ms"):
        table.add_column(column, justify="right" if column != "step" else "left")
    for name, stats in result["steps_ms"].items():
        table.add_row(name, *(f"{stats[k]:.1f}" for k in ("p50", "p95", "mean")))
    console = Console()
    console.print(table)
    console.print(f"{result['calls_per_second']:.1f} complete calls/s on one thread; "
                  f"one scrypt PIN check: {result['pin_hash_ms']:.0f} ms")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
