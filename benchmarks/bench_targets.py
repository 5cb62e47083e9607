"""Issue 15's targets, each met or missed with the figure measured in this run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

HERE = Path(__file__).resolve().parent
IMPORT_JSON = HERE / "import_city.json"  # benchmarks/import_city.py --json writes it
CPU_RATIO_MAX = 2.0  # the hotline's server CPU per request, times the baseline's
CALLS_RATIO_MIN = 0.5  # the hotline's completed calls/s, share of the baseline's
P99_MAX_MS = 50.0  # non-PIN steps, at every level of concurrent callers
QA_CALLS_MIN = 100.0  # QA batch calls/s


def _row(target: str, figure: str, met: bool | None, note: str = "") -> dict[str, Any]:
    """One line of the table (met None: not measured in this run)."""
    return {"target": target, "figure": figure, "met": met, "note": note}


def cpu_rows(saturation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Server CPU per request, hotline against baseline: the worst worker count per backend."""
    rows = []
    for backend in dict.fromkeys(r["backend"] for r in saturation):
        worst = max(
            (r for r in saturation if r["backend"] == backend),
            key=lambda r: _cpu(r["ivr"]) / max(_cpu(r["baseline"]), 1e-9),
        )
        base, ivr = _cpu(worst["baseline"]), _cpu(worst["ivr"])
        ratio = ivr / base if base else float("inf")
        figure = f"{ratio:.2f}× ({ivr:.2f} vs {base:.2f} ms/request)"
        note = f"worst: {worst['workers']} worker(s)"
        rows.append(_row(f"step CPU ≤ {CPU_RATIO_MAX:g}× baseline ({backend})", figure,
                         ratio <= CPU_RATIO_MAX, note))  # fmt: skip
    return rows


def _cpu(result: dict[str, Any]) -> float:
    """Server CPU ms per request of one load run."""
    return float(result["server_cpu_ms_per_request"])


def calls_rows(sweep: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Completed calls/s against the baseline's at the same concurrency, load client included."""
    base = {p["result"]["concurrency"]: p["result"] for p in sweep if p["server"] == "baseline"}
    rows = []
    for backend in dict.fromkeys(p["backend"] for p in sweep if p["server"] == "ivr"):
        points = [p["result"] for p in sweep if p["server"] == "ivr" and p["backend"] == backend]
        top = max((r for r in points if r["concurrency"] in base), key=lambda r: r["concurrency"])
        other = base[top["concurrency"]]
        ratio = top["calls_per_s"] / max(other["calls_per_s"], 1e-9)
        rows.append(_row(f"calls/s ≥ {CALLS_RATIO_MIN:.0%} of baseline ({backend})",
                         f"{ratio:.0%} ({top['calls_per_s']:.1f} vs {other['calls_per_s']:.1f})",
                         ratio >= CALLS_RATIO_MIN and not top["errors"],
                         f"{top['concurrency']} calls at once"))  # fmt: skip
    return rows


def p99_rows(callers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """p99 of the non-PIN steps at each level of concurrent callers, per backend."""
    rows = []
    for point in callers:
        if point["server"] != "ivr":
            continue
        result = point["result"]
        p99 = result["all_but_pin"]["p99"]
        rows.append(_row(f"p99 non-PIN < {P99_MAX_MS:g} ms, {result['concurrency']} callers "
                         f"({point['backend']})", f"{p99:.1f} ms",
                         p99 < P99_MAX_MS and not result["errors"],
                         f"{result['errors']} errors"))  # fmt: skip
    return rows


def qa_rows(qa: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The QA batch's calls/s (benchmarks/qa_batch.py)."""
    if not qa:
        return [_row(f"QA batch ≥ {QA_CALLS_MIN:g} calls/s", "-", None, "not run")]
    rate = float(qa.get("calls_per_s", 0))
    met = rate >= QA_CALLS_MIN and not qa.get("failed")
    note = f"{qa.get('jobs', '?')} jobs"
    return [_row(f"QA batch ≥ {QA_CALLS_MIN:g} calls/s", f"{rate:.1f} calls/s", met, note)]


def import_rows(path: Path = IMPORT_JSON) -> list[dict[str, Any]]:
    """The city import's rows, from benchmarks/import_city.py's JSON when it has been run."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        limits, results = doc.get("targets", {}), doc["results"]
    except (OSError, ValueError, KeyError, AttributeError):
        return [_row("import (benchmarks/import_city.py)", "-", None, f"no {path.name}")]
    rows = []
    for run in results:
        met = [run[k] for k in ("time_met", "rss_met") if k in run]
        rows.append(_row(f"import: {run.get('run', '?')} ({run.get('backend', '?')})",
                         f"{run.get('seconds', 0):.0f} s, {run.get('peak_rss', 0) / 2**20:.0f} MB",
                         all(met) if met else None,
                         f"≤ {limits.get('seconds', '?')} s, from {path.name}"))  # fmt: skip
    return rows


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target row that this report (and the import's JSON) can judge."""
    rows = cpu_rows(report.get("saturation", []))
    rows += calls_rows(report.get("sweep", [])) if report.get("sweep") else []
    rows += p99_rows(report.get("callers", []))
    return rows + qa_rows(report.get("qa_batch")) + import_rows()


def print_targets(rows: list[dict[str, Any]], console) -> None:
    """The targets as a table: the measured figure, and met or missed."""
    table = Table(title="Targets (issue 15)")
    for column in ("target", "measured", "", "note"):
        table.add_column(column)
    for row in rows:
        verdict = {True: "[green]met[/]", False: "[red]missed[/]", None: "-"}[row["met"]]
        table.add_row(row["target"], row["figure"], verdict, row["note"])
    console.print(table)
