"""The benchmarks' output: rich tables on the terminal, and the plot of the concurrency sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
PASS, MISS = "[green]met[/]", "[red]missed[/]"


def print_load(summary: dict[str, Any], title: str) -> None:
    """One load run: latency per step type, then the rates and errors."""
    table = Table(title=title)
    for column in ("step", "count", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "step" else "right")
    rows = [*summary["steps"].items(), ("all but PIN", summary["all_but_pin"])]
    for name, p in rows:
        table.add_row(name, str(p["count"]), f"{p['p50']:.1f}", f"{p['p95']:.1f}",
                      f"{p['p99']:.1f}")  # fmt: skip
    console.print(table)
    console.print(f"{summary['calls']} calls in {summary['seconds']} s: "
                  f"{summary['calls_per_s']} calls/s, {summary['requests_per_s']} requests/s, "
                  f"{summary['errors']} errors, "
                  f"{summary.get('fallbacks', 0)} requests to the fallback URL")  # fmt: skip
    for sample in summary["error_samples"]:
        console.print(f"  [red]error:[/] {sample}", soft_wrap=True)


def print_ratios(rows: list[dict[str, Any]]) -> None:
    """Hotline against baseline at each worker count and backend, measured side by side."""
    table = Table(
        title="Saturation: the hotline against a bare Flask + twilio webhook",
        caption="CPU: server CPU ms per request; p99: the hotline's, PIN step apart",
    )
    for column in (
        "db",
        "workers",
        "base r/s",
        "IVR r/s",
        "ratio",
        "base CPU",
        "IVR CPU",
        "p99 ms",
        "errors",
        "≥ 50%",
    ):
        table.add_column(column, justify="left" if column == "db" else "right")
    for row in rows:
        base, ivr = row["baseline"], row["ivr"]
        table.add_row(row["backend"], str(row["workers"]), f"{base['requests_per_s']:.0f}",
                      f"{ivr['requests_per_s']:.0f}", f"{row['ratio']:.0%}",
                      f"{base['server_cpu_ms_per_request']:.2f}",
                      f"{ivr['server_cpu_ms_per_request']:.2f}",
                      f"{ivr['all_but_pin']['p99']:.1f}", str(ivr["errors"] + base["errors"]),
                      PASS if row["ratio"] >= 0.5 else MISS)  # fmt: skip
    console.print(table)


def print_sweep(points: list[dict[str, Any]], title: str) -> None:
    """Concurrency against throughput and p99 latency, per server."""
    table = Table(
        title=title,
        caption="p99: every step but the PIN check (its own column)",
    )
    for column in (
        "server",
        "db",
        "calls",
        "think ms",
        "calls/s",
        "req/s",
        "p99 ms",
        "PIN p99",
        "errors",
        "< 50 ms",
    ):
        table.add_column(column, justify="left" if column in ("server", "db") else "right")
    for p in points:
        s = p["result"]
        ok = s["all_but_pin"]["p99"] < 50 and not s["errors"]
        table.add_row(p["server"], p["backend"], str(s["concurrency"]), str(s["think_ms"]),
                      f"{s['calls_per_s']:.1f}", f"{s['requests_per_s']:.0f}",
                      f"{s['all_but_pin']['p99']:.1f}",
                      f"{s['steps'].get('PIN', {}).get('p99', 0):.1f}" if p["server"] == "ivr"
                      else "-", str(s["errors"]), PASS if ok else MISS)  # fmt: skip
    console.print(table)


def plot_sweep(points: list[dict[str, Any]], path: Path) -> None:
    """PNG: calls per second and p99 step latency against concurrent calls, per server."""
    import matplotlib

    matplotlib.use("Agg")  # no screen: write the file only
    from matplotlib import pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    lines: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        lines.setdefault(f"{p['server']} ({p['backend']})", []).append(p["result"])
    for label, results in sorted(lines.items()):
        xs = [r["concurrency"] for r in results]
        left.plot(xs, [r["calls_per_s"] for r in results], marker="o", label=label)
        right.plot(xs, [r["all_but_pin"]["p99"] for r in results], marker="o", label=label)
    right.axhline(50, color="grey", linestyle="--", linewidth=1, label="target 50 ms")
    left.set(xlabel="concurrent calls", ylabel="completed calls / s", title="Throughput")
    right.set(xlabel="concurrent calls", ylabel="p99 step latency, ms (PIN step apart)",
              title="p99 latency")  # fmt: skip
    for axes in (left, right):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
