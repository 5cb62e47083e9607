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

from bench_servers import BENCH_PIN_KEY, PIN_SETTINGS, database, load_demo
from rich.console import Console
from rich.table import Table
from werkzeug.security import check_password_hash, generate_password_hash

from ivr import create_app
from ivr.sim.caller import Caller, FlaskTransport
from store.demo import WANG_JIANGUO
from store.pins import PinKeyring

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
        load_demo(url)
        config = {"IVR_DATABASE_URL": url, "IVR_AUTH_TOKEN": "bench-token", "IVR_SPEECH": "say",
                  # The limits are checked on every step, as deployed, but never reached: every
                  # call of the run comes from one number and one address.
                  "IVR_RATE_LIMIT_CALLER": "1000000/minute",
                  "IVR_RATE_LIMIT_ADDRESS": "1000000/second",
                  "IVR_REQUEST_LOG": False, **PIN_SETTINGS}  # fmt: skip
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
            **hash_cost()}  # fmt: skip


def hash_cost(keyed_rounds: int = 20_000, legacy_rounds: int = 3) -> dict[str, float]:
    """One keyed PIN check in µs (the hotline's), and one werkzeug scrypt check in ms (the
    production hash before keyed hashing, still checked for hashes made back then)."""
    keys = PinKeyring((bytes.fromhex(BENCH_PIN_KEY),))
    keyed, legacy = keys.hash("135790"), generate_password_hash("135790", "scrypt")
    t0 = time.perf_counter()
    for _ in range(keyed_rounds):
        keys.verify("135790", keyed)
    t1 = time.perf_counter()
    for _ in range(legacy_rounds):
        check_password_hash(legacy, "135790")
    t2 = time.perf_counter()
    return {"pin_check_us": round((t1 - t0) * 1e6 / keyed_rounds, 2),
            "legacy_scrypt_ms": round((t2 - t1) * 1000 / legacy_rounds, 1)}  # fmt: skip


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
                  f"one keyed PIN check: {result['pin_check_us']} µs")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
