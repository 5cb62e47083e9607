#!/usr/bin/env python3
"""What menus as data cost: `menu check`, a new call's look at the files under reload,
and finding a call's menu version (in memory, or rebuilt from the database).

    python benchmarks/menu_check.py [--rounds N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ivr.config import PROJECT_ROOT
from ivr.menu.load import check_menu
from ivr.menu.versions import MenuVersion, MenuVersions, digest, snapshot


def timed(action: Callable[[], object], rounds: int) -> float:
    """The median time of one action, in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def bare(source: MenuVersion) -> MenuVersion:
    """Only what version lookups need (no renderer, no audio, no hours)."""
    return source


def measure(rounds: int) -> dict[str, float]:
    """Each operation's median time, on a copy of the shipped prompts."""
    folder = Path(tempfile.mkdtemp()) / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", folder)
    try:
        results = {}
        for name in ("12333.yaml", "12393.yaml"):
            results[f"menu check {name}"] = timed(lambda n=name: check_menu(folder / n), rounds)
        checked, texts = snapshot(folder / "12333.yaml")
        editions = MenuVersions(checked, texts, bare, reload=True)
        version = digest(texts)
        results["new call, reload on, files unchanged"] = timed(editions.refresh, rounds)
        results["call in progress, version in memory"] = timed(
            lambda: editions.for_call(version), rounds
        )
        stored = editions.current.stored()
        # A worker that never loaded the call's version: a new process's MenuVersions each round.
        results["call in progress, version rebuilt from its stored files"] = timed(
            lambda: MenuVersions(checked, texts, bare).for_call("0ther", lambda _: stored), rounds
        )
        return results
    finally:
        shutil.rmtree(folder.parent)


def main() -> None:
    """Measure and print; optionally keep the numbers as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="repetitions of each (50)")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    results = measure(args.rounds)
    table = Table(title=f"Menus as data: median of {args.rounds} rounds")
    table.add_column("operation")
    table.add_column("ms", justify="right")
    for name, ms in results.items():
        table.add_row(name, f"{ms:.4f}")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "ms": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
