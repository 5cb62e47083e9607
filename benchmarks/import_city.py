"""Import a whole city: N persons, N/4 bindings and 10 N movements, on SQLite and
PostgreSQL, then again; then time the 账户明细 query on what was imported.

The city (store/city.py) is streamed to a temporary JSON file; each import runs in a child
process on a fresh database (a temporary SQLite file, or a new PostgreSQL schema dropped
afterwards), so its peak RSS is its own. The second import of the same file is the upsert.
Targets: each import at most 180 s and 1 GiB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_servers import PG_URL, database, postgres_answers  # noqa: E402

from store.city import CITY_DAY, TX_PER_PERSON, write_city  # noqa: E402

TARGET_SECONDS = 180
TARGET_RSS = 1 << 30
STATEMENT_SAMPLES = 2_000  # statements timed, of persons spread over the whole city


def child(url: str, path: Path) -> None:
    """Import the file once (in this process) and print what it cost, as JSON."""
    from store.db import make_engine, make_sessionmaker
    from store.import_apply import import_file
    from store.pins import PinKeyring, generate_key

    keys = PinKeyring((bytes.fromhex(generate_key()),))  # the hotline's own keyed hash
    engine = make_engine(url)
    started = time.perf_counter()
    with make_sessionmaker(engine)() as session:
        summary = import_file(session, path, CITY_DAY, keys.hash)
    seconds = time.perf_counter() - started
    engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "summary": asdict(summary)}))


def run_child(url: str, path: Path) -> dict:
    """One import in a child process; its report."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the import failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_statements(url: str) -> dict:
    """Milliseconds per statement() call, for persons spread evenly over the city."""
    from sqlalchemy import func, select

    from store.db import make_engine
    from store.models import Person, Transaction
    from store.statements import statement

    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(Transaction)).scalar_one()
        ids = connection.execute(select(Person.id).order_by(Person.id)).scalars().all()
        chosen = ids[:: max(1, len(ids) // STATEMENT_SAMPLES)]
        times, entries = [], 0
        for person_id in chosen:
            started = time.perf_counter()
            entries += statement(connection, person_id, CITY_DAY).count
            times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    times.sort()
    return {"transactions": rows, "calls": len(times), "movements_seen": entries,
            "median_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99)],
            "max_ms": times[-1]}  # fmt: skip


def measure(backend: str, path: Path, records: int) -> tuple[list[dict], dict]:
    """The import and the re-import of the file on a fresh database of `backend`, then
    the statement query on it."""
    results = []
    with database(backend) as url:
        for run in ("import", "re-import"):
            report = run_child(url, path)
            report.update(backend=backend, run=run, records=records,
                          records_per_s=records / report["seconds"],
                          time_met=report["seconds"] <= TARGET_SECONDS,
                          rss_met=report["peak_rss"] <= TARGET_RSS)  # fmt: skip
            print(_line(report), flush=True)
            results.append(report)
        timed = time_statements(url)
        print(f"{backend:<10} statement() over {timed['transactions']:,} movements: median "
              f"{timed['median_ms']:.2f} ms, p99 {timed['p99_ms']:.2f} ms, max "
              f"{timed['max_ms']:.2f} ms ({timed['calls']:,} callers)", flush=True)  # fmt: skip
    return results, {"backend": backend, **timed}


def _line(r: dict) -> str:
    """One result as a line of the report."""
    met = {True: "met", False: "MISSED"}
    return (
        f"{r['backend']:<10} {r['run']:<9} {r['seconds']:7.1f} s  {r['records_per_s']:9,.0f}"
        f" records/s  peak RSS {r['peak_rss'] / 2**20:6.0f} MiB  "
        f"(≤{TARGET_SECONDS} s: {met[r['time_met']]}, ≤1 GiB: {met[r['rss_met']]})"
        f"  {r['summary']}"
    )


def main() -> None:
    """Generate the city, import it on each backend, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000, help="city size (bindings: N/4)")
    parser.add_argument("--per-person", type=int, default=TX_PER_PERSON,
                        help="movements of each person's account")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")  # fmt: skip
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]))
    results, skipped, statements = [], [], []
    with tempfile.TemporaryDirectory(prefix="ivr-city-") as folder:
        started = time.perf_counter()
        path = write_city(Path(folder) / "city.json", args.persons, per_person=args.per_person)
        movements = args.persons * args.per_person
        records = args.persons + args.persons // 4 + movements
        print(f"City of {args.persons:,} persons, {args.persons // 4:,} bindings and "
              f"{movements:,} movements: "
              f"{path.stat().st_size / 2**20:,.0f} MiB, written in "
              f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        for backend in args.backends.split(","):
            if backend == "postgresql" and not postgres_answers():
                print(f"PostgreSQL skipped: nothing answers at {PG_URL} (IVR_BENCH_PG_URL)")
                skipped.append(backend)
                continue
            imports, timed = measure(backend, path, records)
            results += imports
            statements.append(timed)
    if args.json:
        doc = {"persons": args.persons, "bindings": args.persons // 4,
               "transactions": args.persons * args.per_person, "skipped": skipped,
               "targets": {"seconds": TARGET_SECONDS, "peak_rss": TARGET_RSS},
               "results": results, "statements": statements}  # fmt: skip
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
