"""Closing lost calls, run directly on each backend: what is closed, and sweeps racing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from store.db import make_engine
from store.lost_calls import close_idle_calls, sweep_idle_calls
from store.models import Call, CallAudio, CallEvent

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=5)
BEFORE = NOW - timedelta(hours=4)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's empty database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def add_call(engine: Engine, sid: str, updated: datetime, ended: bool = False) -> None:
    """A call row last updated at `updated`, waiting at `main` after 3 steps, with a read-back."""
    with engine.begin() as connection:
        connection.execute(insert(Call), {
            "call_sid": sid, "node": "main", "seq": 3, "ended": ended, "started_at": T0,
            "updated_at": updated, "last_answer": "<Response><Say>余额</Say></Response>",
        })  # fmt: skip
        connection.execute(insert(CallAudio), {
            "token": f"tok-{sid}", "call_sid": sid, "seq": 3, "lang": "zh-CN", "text": "余额",
            "expires_at": 4_000_000_000,
        })  # fmt: skip


def state(engine: Engine, sid: str) -> tuple[bool, datetime, list[tuple], int]:
    """A call's ended flag, updated_at (UTC), event log and read-backs left."""
    with engine.connect() as connection:
        call = connection.execute(select(Call).where(Call.call_sid == sid)).one()
        events = connection.execute(
            select(CallEvent.seq, CallEvent.node, CallEvent.input_masked, CallEvent.outcome).where(
                CallEvent.call_sid == sid
            )
        ).all()
        audio = connection.scalar(select(func.count()).where(CallAudio.call_sid == sid))
    updated = call.updated_at if call.updated_at.tzinfo else call.updated_at.replace(tzinfo=UTC)
    return call.ended, updated.astimezone(UTC), [tuple(e) for e in events], audio


def test_only_live_calls_idle_since_before_are_closed(engine: Engine) -> None:
    add_call(engine, "CAstale", T0)
    add_call(engine, "CAedge", BEFORE)  # idle exactly the limit: not past it
    add_call(engine, "CArecent", NOW - timedelta(minutes=5))
    add_call(engine, "CAover", T0, ended=True)
    with engine.connect() as connection:
        assert close_idle_calls(connection, BEFORE, NOW, 10) == ["CAstale"]
        connection.commit()
    # Ended, a `lost` event at its last node, its read-back gone; last heard still T0.
    assert state(engine, "CAstale") == (True, T0, [(3, "main", "", "lost")], 0)
    for sid, ended, updated in (("CAedge", False, BEFORE), ("CAover", True, T0)):
        assert state(engine, sid) == (ended, updated, [], 1)
    with engine.connect() as connection:  # a lost call's last answer (balance words) goes too
        answers = dict(connection.execute(select(Call.call_sid, Call.last_answer)).all())
    assert answers["CAstale"] is None and answers["CAedge"] is not None


def test_a_sweep_closes_the_oldest_first_a_batch_at_a_time(engine: Engine) -> None:
    for minute in range(5):
        add_call(engine, f"CAold{minute}", T0 + timedelta(minutes=minute))
    with engine.connect() as connection:
        assert close_idle_calls(connection, BEFORE, NOW, 2) == ["CAold0", "CAold1"]
        connection.commit()
    assert sweep_idle_calls(engine, BEFORE, NOW, batch=2) == 3  # the rest, in two batches
    assert sweep_idle_calls(engine, BEFORE, NOW) == 0


def test_racing_sweeps_close_and_count_each_call_once(engine: Engine) -> None:
    sids = [f"CArace{n:02d}" for n in range(12)]
    for sid in sids:
        add_call(engine, sid, T0)
    start, counts = threading.Barrier(4), []

    def sweep() -> None:
        """One worker's sweep, started with the others."""
        start.wait()
        counts.append(sweep_idle_calls(engine, BEFORE, NOW, batch=3))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(counts) == 4 and sum(counts) == len(sids)
    with engine.connect() as connection:
        lost = connection.execute(select(CallEvent.call_sid).where(CallEvent.outcome == "lost"))
        assert sorted(lost.scalars()) == sids  # one event each: no call closed twice


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_call_a_step_holds_is_passed_over_without_waiting(engine: Engine) -> None:
    add_call(engine, "CAheld", T0)
    add_call(engine, "CAfree", T0 + timedelta(seconds=1))
    with engine.connect() as step, engine.connect() as sweeper:
        # A webhook's step holds its call's row as repo.load_call does.
        step.execute(select(Call).where(Call.call_sid == "CAheld").with_for_update()).one()
        started = time.monotonic()
        assert close_idle_calls(sweeper, BEFORE, NOW, 10) == ["CAfree"]
        assert time.monotonic() - started < 1.0  # not the 3 s lock timeout
        sweeper.commit()
        step.rollback()
    assert state(engine, "CAheld")[0] is False  # the next sweep takes it
    assert sweep_idle_calls(engine, BEFORE, NOW) == 1
