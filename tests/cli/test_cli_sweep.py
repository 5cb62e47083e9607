"""`calls sweep`: the operator closes calls whose end never came, and is told how many."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ivr.cli.sweep import spoken_duration
from tests.conftest import post_status


def run(app, *args: str):
    """Run `calls ARGS` on the app's CLI."""
    return app.test_cli_runner().invoke(args=["calls", *args])


def outcomes(app) -> dict[str, tuple[bool, str]]:
    """Each call's ended flag and last outcome, as `calls list --json` shows them."""
    result = run(app, "list", "--json")
    assert result.exit_code == 0, result.output
    return {c["call_sid"]: (c["ended"], c["last_outcome"]) for c in json.loads(result.output)}


def test_sweep_closes_the_idle_live_calls_and_says_how_many(app, make_caller, clock) -> None:
    stale = [make_caller() for _ in range(2)]
    for caller in stale:
        caller.dial()
    over = make_caller()
    over.dial()
    assert post_status(app, over.call_sid) == 204  # ended as ever: not lost
    clock.now += timedelta(hours=3)
    recent = make_caller()
    recent.dial()
    clock.now += timedelta(hours=1, minutes=1)
    result = run(app, "sweep")
    assert result.exit_code == 0, result.output
    assert result.output == "Closed 2 call(s) idle for over 4h as lost.\n"
    assert outcomes(app) == {
        **{c.call_sid: (True, "lost") for c in stale},
        over.call_sid: (True, "status completed"),
        recent.call_sid: (False, "start"),
    }
    assert run(app, "sweep").output == "Closed 0 call(s) idle for over 4h as lost.\n"
    shorter = run(app, "sweep", "--max-idle", "30m")
    assert shorter.output == "Closed 1 call(s) idle for over 30m as lost.\n"
    assert outcomes(app)[recent.call_sid] == (True, "lost")


@pytest.mark.parametrize("value", ["0", "soon", "-1h", "1.5h"])
def test_sweep_refuses_a_bad_max_idle(app, value: str) -> None:
    result = run(app, "sweep", "--max-idle", value)
    assert result.exit_code == 2 and "--max-idle" in result.output
    assert "30m, 4h, 1d" in result.output


def test_sweep_help_says_what_it_closes_and_when(app) -> None:
    result = run(app, "sweep", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for said in ("IVR_CALL_MAX_IDLE", "as lost", "status callback", "cron",
                 "several machines at once", "--max-idle DURATION"):  # fmt: skip
        assert said in text, said


def test_sweep_reports_an_unreachable_database_in_one_line(make_app) -> None:
    result = run(make_app(IVR_DATABASE_URL="sqlite:////nonexistent-dir/x.sqlite3"), "sweep")
    assert result.exit_code == 1
    assert "Error: database error" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(14_400, "4h"), (5_400, "90m"), (45, "45s"), (86_400, "1d"), (3_601, "3601s")],
)
def test_durations_are_said_in_their_largest_whole_unit(seconds: int, said: str) -> None:
    assert spoken_duration(seconds) == said
