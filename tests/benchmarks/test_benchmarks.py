"""The benchmarks run: a tiny `make bench` end to end, so they cannot rot. No speed is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

from load import percentiles  # noqa: E402

pytestmark = pytest.mark.slow  # a tiny make bench

STEP_TYPES = {"welcome", "menu", "ID", "PIN", "balance", "家庭共济", "hangup"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """bench_all.py --quick on SQLite (and PostgreSQL when the tests have one)."""
    folder = tmp_path_factory.mktemp("bench")
    env = dict(os.environ)
    backends = "sqlite"
    if os.environ.get("IVR_TEST_DATABASE_URL"):
        backends += ",postgresql"
        env["IVR_BENCH_PG_URL"] = os.environ["IVR_TEST_DATABASE_URL"]
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_all.py"), "--quick", "--backends", backends,
         "--json", str(folder / "results.json"), "--plot", str(folder / "plot.png")],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((folder / "results.json").read_text())
    return {"report": report, "out": done.stdout, "plot": folder / "plot.png",
            "backends": backends.split(",")}  # fmt: skip


def test_saturation_compares_each_backend_with_the_baseline(quick_run) -> None:
    """One row per backend, with both servers' rates, CPU and no errors."""
    rows = quick_run["report"]["saturation"]
    assert [r["backend"] for r in rows] == quick_run["backends"]
    for row in rows:
        for server in ("baseline", "ivr"):
            result = row[server]
            assert result["errors"] == 0, result["error_samples"]
            assert result["calls"] == 3 and result["requests"] >= 21
            assert set(result["steps"]) == STEP_TYPES
            # CPU time is counted in clock ticks (10 ms): a quick run's 21 baseline requests
            # may fall between two; the hotline's, several times dearer, never do.
            cpu = result["server_cpu_ms_per_request"]
            assert cpu > 0 if server == "ivr" else cpu >= 0
        assert row["ratio"] == pytest.approx(
            row["ivr"]["requests_per_s"] / row["baseline"]["requests_per_s"], rel=0.01
        )
    assert "Saturation" in quick_run["out"] and "ratio" in quick_run["out"]


def test_sweeps_qa_batch_and_soak_ran(quick_run) -> None:
    """Both sweeps have every server at every level, the QA batch passed, RSS was sampled."""
    report = quick_run["report"]
    servers = {("ivr", b) for b in quick_run["backends"]} | {("baseline", "-")}
    for part, levels in (("sweep", [1, 2]), ("callers", [2])):
        points = report[part]
        assert {(p["server"], p["backend"]) for p in points} == servers
        assert sorted({p["result"]["concurrency"] for p in points}) == levels
        assert all(p["result"]["errors"] == 0 and p["result"]["calls"] > 0 for p in points)
    assert {p["result"]["think_ms"] for p in report["callers"]} == {10}
    assert report["qa_batch"]["failed"] == 0 and report["qa_batch"]["calls"] == 5
    assert [s["calls"] for s in report["soak"]["samples"]] == [5, 10]
    assert all(s["rss_mb"] > 10 for s in report["soak"]["samples"])
    assert report["pin_check_us"] > 0 and report["legacy_scrypt_ms"] > report["pin_check_us"] / 1000
    assert report["machine"]["cpus"] >= 1


def test_targets_table_judges_every_target(quick_run) -> None:
    """Each target has a row per backend (or level) with its figure and a verdict; no speed."""
    rows = quick_run["report"]["targets"]
    assert all(set(r) == {"target", "figure", "met", "note"} for r in rows)
    assert all(r["met"] in (True, False, None) and r["figure"] for r in rows)
    names = [r["target"] for r in rows]
    for backend in quick_run["backends"]:
        assert sum(n.startswith("step CPU") and f"({backend})" in n for n in names) == 1
        assert sum(n.startswith("calls/s") and f"({backend})" in n for n in names) == 1
        assert sum(n.startswith("p99 non-PIN") and f"({backend})" in n for n in names) == 1
    assert sum(n.startswith("QA batch") for n in names) == 1
    assert any(n.startswith("import") for n in names)  # a row even before the import is run
    assert "Targets" in quick_run["out"]


def test_the_plot_is_a_png(quick_run) -> None:
    """The plot file is a real PNG."""
    assert quick_run["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0}),
        ([5.0], {"count": 1, "p50": 5.0, "p95": 5.0, "p99": 5.0}),
        ([float(n) for n in range(1, 101)], {"count": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0}),
        ([3.0, 1.0, 2.0, 4.0], {"count": 4, "p50": 2.0, "p95": 4.0, "p99": 4.0}),
    ],
)
def test_percentiles_are_nearest_rank(values: list[float], expected: dict) -> None:
    """Nearest-rank percentiles of unsorted timings."""
    assert percentiles(values) == expected


def test_load_refuses_bad_arguments() -> None:
    """load.py explains a bad --concurrency instead of running."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "load.py"), "--url", "http://127.0.0.1:9/voice",
         "--concurrency", "0"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "--concurrency" in done.stderr


def test_load_reports_refused_calls_as_errors(tmp_path, capsys) -> None:
    """Against a hotline that refuses the signature, every call is an error and exit is 1."""
    import load
    from bench_servers import database, load_demo, running

    with database("sqlite") as url:
        load_demo(url)
        with running("ivr", 1, 2, url) as server:
            code = load.main(["--url", server.url, "--concurrency", "2", "--calls", "2",
                              "--auth-token", "not-the-token",
                              "--json", str(tmp_path / "load.json")])  # fmt: skip
    summary = json.loads((tmp_path / "load.json").read_text())
    assert code == 1 and summary["errors"] == 2 and summary["calls"] == 0
    assert all("HTTP 403" in sample for sample in summary["error_samples"])
    assert "2 errors" in capsys.readouterr().out


def test_menu_check_benchmark_runs(tmp_path) -> None:
    """benchmarks/menu_check.py measures every operation it names (no speed is asserted)."""
    out = tmp_path / "menu.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "menu_check.py"), "--rounds", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    numbers = json.loads(out.read_text())["ms"]
    assert set(numbers) == {
        "menu check 12333.yaml", "menu check 12393.yaml",
        "new call, reload on, files unchanged", "call in progress, version in memory",
        "call in progress, version rebuilt from its stored files",
    }  # fmt: skip
    assert all(ms > 0 for ms in numbers.values())
