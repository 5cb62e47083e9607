"""No call stays live forever: a status callback that cannot be recorded says so (503), and
calls idle past IVR_CALL_MAX_IDLE are closed as lost when new calls start."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.sim.caller import Caller
from ivr.web import lost
from store.models import Call, CallEvent
from tests.conftest import post_status
from tests.web.lines import BROKEN_URLS
from tests.web.test_call_flow import ASK_ID, GOODBYE, WELCOME
from tests.web.test_operations import scrape


def call_row(app: Flask, call_sid: str) -> tuple[bool, list[tuple[int, str, str]]]:
    """Whether the call is ended, and its event log as (seq, node, outcome)."""
    with app.extensions["ivr"].sessions() as session:
        ended = session.get_one(Call, call_sid).ended
        events = session.execute(
            select(CallEvent.seq, CallEvent.node, CallEvent.outcome)
            .where(CallEvent.call_sid == call_sid)
            .order_by(CallEvent.id)
        ).all()
    return ended, [tuple(event) for event in events]


def calls_counted(app: Flask) -> dict[str, float]:
    """ivr_calls_total by outcome."""
    samples = scrape(app)
    return {dict(labels)["outcome"]: v for (name, labels), v in samples.items()
            if name == "ivr_calls_total"}  # fmt: skip


# --- a status callback that cannot be recorded -------------------------------------------------


@pytest.mark.parametrize("broken_url", BROKEN_URLS)
def test_a_status_callback_not_recorded_answers_503(
    app: Flask, make_app: Callable[..., Flask], caller: Caller, broken_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caller.dial()
    down = make_app(IVR_DATABASE_URL=broken_url)
    assert post_status(down, caller.call_sid) == 503  # Twilio's debugger shows it
    assert calls_counted(down) == {}  # nothing recorded, nothing counted
    assert "not recorded" in caplog.text
    assert call_row(app, caller.call_sid)[0] is False  # still live: the sweep will close it
    assert post_status(app, caller.call_sid) == 204  # once the database is back
    assert call_row(app, caller.call_sid)[0] is True
    assert calls_counted(app) == {"abandoned": 1.0}


def test_a_status_callback_that_ends_nothing_still_answers_204(
    make_app: Callable[..., Flask],
) -> None:
    """Not a final status: nothing to record, so no database is needed."""
    down = make_app(IVR_DATABASE_URL=BROKEN_URLS[0].values[0])
    assert post_status(down, "CAringing0001", "ringing") == 204


# --- calls idle past the limit, closed as lost when calls start ---------------------------------


@pytest.mark.parametrize(
    ("setting", "idle", "closed"),
    [
        (None, timedelta(hours=4, seconds=1), True),  # the default: Twilio's longest call
        (None, timedelta(hours=4), False),  # exactly the limit: not yet
        (None, timedelta(hours=3, minutes=59), False),
        ("30m", timedelta(minutes=31), True),
        ("30m", timedelta(minutes=29), False),
    ],
)
def test_a_call_idle_past_the_limit_is_lost_when_a_call_starts(
    build: Callable[..., Flask], make_caller, clock, setting: str | None, idle: timedelta,
    closed: bool,
) -> None:  # fmt: skip
    app = build(**({"IVR_CALL_MAX_IDLE": setting} if setting else {}))
    stale = make_caller(app)
    stale.dial()
    assert ASK_ID in stale.press("2")  # then the status callback never comes
    clock.now += idle
    fresh = make_caller(app)
    assert WELCOME in fresh.dial()  # a new call is answered as ever
    ended, events = call_row(app, stale.call_sid)
    assert ended is closed
    assert events[-1] == ((2, "ask_id", "lost") if closed else (2, "main", "key 2"))
    assert call_row(app, fresh.call_sid)[0] is False
    assert calls_counted(app) == ({"lost": 1.0} if closed else {})


def test_a_lost_call_is_counted_once_and_a_late_end_adds_nothing(
    app: Flask, make_caller, clock
) -> None:
    stale = make_caller()
    stale.dial()
    clock.now += timedelta(hours=5)
    make_caller().dial()
    assert post_status(app, stale.call_sid) == 204  # Twilio's callback after all: too late
    assert calls_counted(app) == {"lost": 1.0}
    assert [e[2] for e in call_row(app, stale.call_sid)[1]] == ["start", "lost"]  # no 2nd end
    assert stale.press("2") == GOODBYE  # a late request for a lost call: no menu again


def test_calls_are_swept_at_most_once_a_minute_per_process(app: Flask, make_caller, clock) -> None:
    """A sweep costs a write: a busy hotline starts many calls a minute, and sweeps one."""
    first, second = make_caller(), make_caller()
    first.dial()
    clock.now += timedelta(seconds=30)
    second.dial()  # 30 s after the first
    clock.now += timedelta(hours=4, seconds=-20)
    make_caller().dial()  # sweeps: first idle 4 h 10 s is lost; second 3 h 59 m 40 s is not
    clock.now += timedelta(seconds=30)
    make_caller().dial()  # second is past it now, but the last sweep was 30 s ago
    assert [call_row(app, c.call_sid)[0] for c in (first, second)] == [True, False]
    clock.now += timedelta(seconds=31)
    make_caller().dial()
    assert [call_row(app, c.call_sid)[0] for c in (first, second)] == [True, True]
    assert calls_counted(app) == {"lost": 2.0}


def test_a_failed_sweep_never_fails_the_new_call(
    app: Flask, make_caller, clock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    def broken(*_args: object) -> list[str]:
        """A sweep that fails as a database would."""
        raise RuntimeError("disk I/O error")

    caplog.set_level(logging.WARNING, logger="ivr")
    stale = make_caller()
    stale.dial()
    clock.now += timedelta(hours=5)
    monkeypatch.setattr(lost, "close_idle_calls", broken)
    assert WELCOME in make_caller().dial()
    assert "idle calls not swept: RuntimeError" in caplog.text
    assert call_row(app, stale.call_sid)[0] is False and calls_counted(app) == {}
