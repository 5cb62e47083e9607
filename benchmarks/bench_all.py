"""`make bench`: the hotline against a bare Flask + twilio baseline, over HTTP, in one run.

    .venv/bin/python benchmarks/bench_all.py [--workers 1,2,4] [--backends sqlite,postgresql]
        [--json benchmarks/results.json] [--plot benchmarks/concurrency.png] [--quick]

1. PIN hashing: one keyed PIN check (and, for comparison, one werkzeug scrypt check as
   used before keyed hashing), timed alone.
2. Saturation: for each backend and worker count, the baseline and then the hotline under
   the same gunicorn settings, the same load client and the same concurrency, back to
   back; the ratio of their requests per second. PIN hashes are cheap here (see README).
3. Sweep: calls back to back at each --sweep concurrency, production PIN hashes: calls
   per second and p99 step latency, plotted against concurrency.
4. Callers: --callers concurrent calls whose callers pause --think-ms before each key,
   as people listening to prompts do: p99 step latency against the 50 ms target.
5. QA batch: --qa-calls scripted calls in-process through the QA runner.
6. Memory: one worker's RSS sampled over --soak-calls calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_report import console, plot_sweep, print_ratios, print_sweep  # noqa: E402
from bench_servers import (  # noqa: E402
    AUTH_TOKEN,
    database,
    load_demo,
    postgres_answers,
    running,
    settle,
)
from bench_targets import print_targets, targets  # noqa: E402
from inprocess_call import hash_cost  # noqa: E402
from load import run_load  # noqa: E402
from qa_batch import run_batch  # noqa: E402
from rich.progress import Progress  # noqa: E402

PARTS = ("saturation", "sweep", "callers", "qa", "soak")
SETTLE = {"at_most": 8.0}  # seconds a measured run may wait for a quiet machine (0: --quick)


def warm(server, threads: int) -> None:
    """A few unmeasured calls per worker thread: imports, statement caches, connections."""
    slots = len(server.workers()) * threads
    run_load(server.url, concurrency=slots, calls=2 * slots, token=AUTH_TOKEN,
             baseline=server.name == "baseline")  # fmt: skip


def measured(server, url: str, **load: Any) -> dict[str, Any]:
    """One load run against `server` (database `url`), with its CPU time per request."""
    waited = settle(url, **SETTLE)
    cpu = server.cpu_seconds()
    result = run_load(server.url, token=AUTH_TOKEN, baseline=server.name == "baseline", **load)
    summary = result.summary()
    summary["server_cpu_ms_per_request"] = round(
        (server.cpu_seconds() - cpu) * 1000 / max(1, summary["requests"]), 3
    )
    summary["settled_s"] = waited
    return summary


def saturation(backends: list[str], workers: list[int], args) -> list[dict[str, Any]]:
    """Baseline and hotline side by side at each worker count: requests/s and their ratio."""
    rows = []
    load = {"concurrency": args.concurrency, **_amount(args.calls, args.seconds)}
    for backend in backends:
        for count in workers:
            with database(backend) as url:
                load_demo(url)
                with running("baseline", count, args.threads) as server:
                    warm(server, args.threads)
                    base = measured(server, url, **load)
                with running("ivr", count, args.threads, url) as server:
                    warm(server, args.threads)
                    ivr = measured(server, url, **load)
            ratio = ivr["requests_per_s"] / max(base["requests_per_s"], 1e-9)
            rows.append({"backend": backend, "workers": count, "threads": args.threads,
                         "baseline": base, "ivr": ivr, "ratio": round(ratio, 3)})  # fmt: skip
            console.print(f"  {backend}, {count} worker(s): ratio {ratio:.0%}")
    return rows


def sweep(backends: list[str], levels: list[int], think_ms: int, amount: dict[str, Any],
          args) -> list[dict[str, Any]]:  # fmt: skip
    """Each server at each concurrency level: throughput and p99."""
    points = []
    for backend in [*backends, "baseline"]:
        with database("sqlite" if backend == "baseline" else backend) as url:
            if backend != "baseline":
                load_demo(url)
            kind = "baseline" if backend == "baseline" else "ivr"
            with running(kind, args.sweep_workers, args.threads, url) as server:
                warm(server, args.threads)
                for level in levels:
                    result = measured(server, url, concurrency=level, think_ms=think_ms, **amount)
                    console.print(f"  {kind} ({backend}), {level} at once: "
                                  f"{result['calls_per_s']} calls/s, "
                                  f"p99 {result['all_but_pin']['p99']} ms")  # fmt: skip
                    points.append({"server": kind, "backend": "-" if kind == "baseline"
                                   else backend, "result": result})  # fmt: skip
    return points


def soak(calls: int, every: int, threads: int) -> dict[str, Any]:
    """One worker's RSS, sampled every `every` calls over `calls` calls (cheap PIN hashes)."""
    samples = []
    with database("sqlite") as url:
        load_demo(url)
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
        args.workers, args.calls, args.sweep, args.callers = "1", 3, "1,2", "2"
        args.callers_calls, args.think_ms = 2, 10
        args.qa_calls, args.soak_calls, args.soak_every = 5, 10, 5
        SETTLE["at_most"] = 0.0
    backends = [b for b in args.backends.split(",") if b]
    if "postgresql" in backends and not postgres_answers():
        console.print("[yellow]PostgreSQL does not answer: SQLite only.[/]")
        backends.remove("postgresql")
    report: dict[str, Any] = {"machine": machine(), **hash_cost()}
    console.print(
        f"One PIN check: {report['pin_check_us']} µs keyed (the hotline's);"
        f" {report['legacy_scrypt_ms']} ms with scrypt, as before keyed hashing"
    )
    parts = set(args.only.split(","))
    if "saturation" in parts:
        workers = [int(n) for n in args.workers.split(",")]
        report["saturation"] = saturation(backends, workers, args)
        print_ratios(report["saturation"])
    if "sweep" in parts:
        levels = [int(n) for n in str(args.sweep).split(",")]
        report["sweep"] = sweep(backends, levels, 0, _amount(args.calls, args.seconds), args)
        print_sweep(report["sweep"], "Saturation sweep: calls back to back, no pause")
    if "callers" in parts:
        levels = [int(n) for n in str(args.callers).split(",")]
        amount = _amount(args.callers_calls, args.callers_seconds)
        report["callers"] = sweep(backends, levels, args.think_ms, amount, args)
        print_sweep(report["callers"], "Concurrent calls, callers pausing before each key")
    if "qa" in parts:
        report["qa_batch"] = run_batch(args.qa_calls, 4)
        console.print(f"QA batch, in-process: {report['qa_batch']}")
    if "soak" in parts:
        report["soak"] = soak(args.soak_calls, args.soak_every, args.threads)
        console.print(f"Memory over {args.soak_calls} calls: {report['soak']['samples']}")
    report["targets"] = targets(report)
    print_targets(report["targets"], console)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    if "sweep" in report:
        plot_sweep(report["sweep"], args.plot)
    console.print(f"Wrote {args.json}" + (f" and {args.plot}" if "sweep" in report else ""))
    errors = _errors(report)
    if errors:
        console.print(f"[red]{errors} calls failed[/]: see error_samples in {args.json}")
    return 1 if errors else 0


def _errors(report: dict[str, Any]) -> int:
    """Failed calls across every part of the report."""
    runs = [r[s] for r in report.get("saturation", []) for s in ("baseline", "ivr")]
    runs += [p["result"] for part in ("sweep", "callers") for p in report.get(part, [])]
    errors = sum(run["errors"] for run in runs) + report.get("qa_batch", {}).get("failed", 0)
    return errors + sum(s["errors"] for s in report.get("soak", {}).get("samples", []))


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
    add("--sweep", default="1,2,4,8,16,32", help="Sweep: calls at once [%(default)s].")
    add("--sweep-workers", type=int, default=2, help="Workers for the sweeps [%(default)s].")
    add("--callers", default="50,100", help="Concurrent callers to try [%(default)s].")
    add("--think-ms", type=int, default=3000, help="Callers: pause before keys [%(default)s].")
    add("--callers-seconds", type=float, default=45.0, help="Callers: seconds per level.")
    add("--callers-calls", type=int, help="Callers: calls per level instead of seconds.")
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
