"""`make bench`: the hotline against a bare Flask + twilio baseline, over HTTP, in one run.

    .venv/bin/python benchmarks/bench_all.py [--workers 1,2,4] [--backends sqlite,postgresql]
        [--json benchmarks/results.json] [--plot benchmarks/concurrency.png] [--quick]

1. PIN hashing: one production scrypt check, timed alone.
2. Saturation: for each backend and worker count, the baseline and then the hotline under
   the same gunicorn settings, the same load client and the same concurrency, back to
   back; the ratio of their requests per second. PIN hashes are cheap here (see README).
3. Concurrent calls: callers pausing --think-ms before each key, production PIN hashes,
   at each --sweep level: calls per second and p99 step latency (plotted).
4. QA batch: --qa-calls scripted calls in-process through the QA runner.
5. Memory: one worker's RSS sampled over --soak-calls calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_report import console, plot_sweep, print_ratios, print_sweep  # noqa: E402
from bench_servers import AUTH_TOKEN, database, load_demo, postgres_answers, running  # noqa: E402
from load import run_load  # noqa: E402
from qa_batch import run_batch  # noqa: E402
from rich.progress import Progress  # noqa: E402


PARTS = ("saturation", "sweep", "qa", "soak")


def pin_hash_ms(rounds: int = 5) -> float:
    """The median time of one PIN check at the production scrypt cost."""
    from werkzeug.security import check_password_hash

    from store.lockout import hash_pin

    stored, times = hash_pin("135790"), []
    for _ in range(rounds):
        started = time.perf_counter()
        check_password_hash(stored, "135790")
        times.append((time.perf_counter() - started) * 1000)
    return round(sorted(times)[len(times) // 2], 1)


def measured(server, **load: Any) -> dict[str, Any]:
    """One load run against `server`, with the server's CPU time per request."""
    cpu = server.cpu_seconds()
    result = run_load(server.url, token=AUTH_TOKEN, baseline=server.name == "baseline", **load)
    summary = result.summary()
    summary["server_cpu_ms_per_request"] = round(
        (server.cpu_seconds() - cpu) * 1000 / max(1, summary["requests"]), 3
    )
    return summary


def saturation(backends: list[str], workers: list[int], args) -> list[dict[str, Any]]:
    """Baseline and hotline side by side at each worker count: requests/s and their ratio."""
    rows = []
    load = {"concurrency": args.concurrency, **_amount(args.calls, args.seconds)}
    for backend in backends:
        for count in workers:
            with database(backend) as url:
                load_demo(url, fast_pins=True)
                with running("baseline", count, args.threads) as server:
                    base = measured(server, **load)
                with running("ivr", count, args.threads, url) as server:
                    ivr = measured(server, **load)
            ratio = ivr["requests_per_s"] / max(base["requests_per_s"], 1e-9)
            rows.append({"backend": backend, "workers": count, "threads": args.threads,
                         "baseline": base, "ivr": ivr, "ratio": round(ratio, 3)})  # fmt: skip
            console.print(f"  {backend}, {count} worker(s): ratio {ratio:.0%}")
    return rows


def sweep(backends: list[str], args) -> list[dict[str, Any]]:
    """Concurrent calls with think time, production PIN hashes: throughput and p99."""
    points = []
    for backend in [*backends, "baseline"]:
        with database("sqlite" if backend == "baseline" else backend) as url:
            if backend != "baseline":
                load_demo(url, fast_pins=False)
            kind = "baseline" if backend == "baseline" else "ivr"
            with running(kind, args.sweep_workers, args.threads, url) as server:
                for level in args.sweep:
                    load = {"concurrency": level, "think_ms": args.think_ms,
                            **_amount(args.sweep_calls, args.sweep_seconds)}  # fmt: skip
                    result = measured(server, **load)
                    points.append({"server": kind, "backend": "-" if kind == "baseline"
                                   else backend, "result": result})  # fmt: skip
    return points


def soak(calls: int, every: int, threads: int) -> dict[str, Any]:
    """One worker's RSS, sampled every `every` calls over `calls` calls (cheap PIN hashes)."""
    samples = []
    with database("sqlite") as url:
        load_demo(url, fast_pins=True)
        with (
            running("ivr", 1, threads, url) as server,
            Progress(console=console, transient=True) as bar,
        ):
            task = bar.add_task("memory soak", total=calls)
            done = 0
            while done < calls:
                batch = min(every, calls - done)
                result = run_load(server.url, concurrency=8, calls=batch, token=AUTH_TOKEN)
                done += batch
                bar.update(task, completed=done)
                samples.append({"calls": done, "rss_mb": round(server.worker_rss()[0] / 2**20, 1),
                                "errors": result.errors})  # fmt: skip
    # The first sample is after the warm-up (imports, caches, connection pool).
    first, last = samples[0]["rss_mb"], samples[-1]["rss_mb"]
    return {"calls": calls, "samples": samples, "growth_mb": round(last - first, 1),
            "growth_pct": round((last - first) / first * 100, 1)}  # fmt: skip


def _amount(calls: int | None, seconds: float | None) -> dict[str, Any]:
    """A run's length: a number of calls, or a time."""
    return {"calls": calls} if calls else {"seconds": seconds}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {"date": datetime.now().strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run every part, print the tables, write the JSON and the plot."""
    args = _parser().parse_args(argv)
    if args.quick:
        args.workers, args.calls, args.sweep, args.sweep_calls = "1", 3, "2", 2
        args.think_ms, args.qa_calls, args.soak_calls, args.soak_every = 0, 5, 10, 5
    backends = [b for b in args.backends.split(",") if b]
    if "postgresql" in backends and not postgres_answers():
        console.print("[yellow]PostgreSQL does not answer: SQLite only.[/]")
        backends.remove("postgresql")
    args.sweep = [int(n) for n in str(args.sweep).split(",")]
    report: dict[str, Any] = {"machine": machine(), "pin_hash_ms": pin_hash_ms()}
    console.print(f"One PIN check (production scrypt): {report['pin_hash_ms']} ms")
    parts = set(args.only.split(","))
    if "saturation" in parts:
        workers = [int(n) for n in args.workers.split(",")]
        report["saturation"] = saturation(backends, workers, args)
        print_ratios(report["saturation"])
    if "sweep" in parts:
        report["sweep"] = sweep(backends, args)
        print_sweep(report["sweep"])
    if "qa" in parts:
        report["qa_batch"] = run_batch(args.qa_calls, 4)
        console.print(f"QA batch, in-process: {report['qa_batch']}")
    if "soak" in parts:
        report["soak"] = soak(args.soak_calls, args.soak_every, args.threads)
        console.print(f"Memory over {args.soak_calls} calls: {report['soak']['samples']}")
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    if "sweep" in report:
        plot_sweep(report["sweep"], args.plot)
    console.print(f"Wrote {args.json} and {args.plot}")
    return 0


def _parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--backends", default="sqlite,postgresql", help="Comma-separated [%(default)s].")
    add("--workers", default="1,2,4", help="Worker counts to compare [%(default)s].")
    add("--threads", type=int, default=4, help="Threads per worker [%(default)s].")
    add("--concurrency", type=int, default=16, help="Saturation: calls at once [%(default)s].")
    add("--seconds", type=float, default=8.0, help="Saturation: seconds per run [%(default)s].")
    add("--calls", type=int, help="Saturation: calls per run instead of --seconds.")
    add("--sweep", default="10,25,50,100", help="Concurrent calls to try [%(default)s].")
    add("--sweep-workers", type=int, default=2, help="Workers for the sweep [%(default)s].")
    add("--think-ms", type=int, default=3000, help="Sweep: pause before keys [%(default)s].")
    add("--sweep-seconds", type=float, default=20.0, help="Sweep: seconds per level.")
    add("--sweep-calls", type=int, help="Sweep: calls per level instead of seconds.")
    add("--qa-calls", type=int, default=500, help="QA batch size [%(default)s].")
    add("--soak-calls", type=int, default=10_000, help="Memory soak calls [%(default)s].")
    add("--soak-every", type=int, default=1000, help="Sample RSS every N calls.")
    add("--json", type=Path, default=HERE / "results.json", help="[%(default)s]")
    add("--plot", type=Path, default=HERE / "concurrency.png", help="[%(default)s]")
    add("--only", default=",".join(PARTS), help="Parts to run [%(default)s].")
    add("--quick", action="store_true", help="A few calls of each part (the tests use it).")
    return parser


if __name__ == "__main__":
    sys.exit(main())
