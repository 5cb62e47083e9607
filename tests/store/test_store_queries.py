"""The store's named queries for the softphone, the operator's call records, read-backs and
the health check, run directly on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ivr.config import SHANGHAI
from store import call_log, phone_calls
from store.db import make_engine, make_sessionmaker
from store.health import write_refused
from store.models import Call, CallAudio, CallEvent, Person, PhoneCall
from store.read_backs import add_read_back

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
ID_NUMBER = "110101199003074518"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's empty database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions made as the app makes them."""
    return make_sessionmaker(engine)


def utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives it back without its zone)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def phone_row(sessions: sessionmaker[Session], call_sid: str) -> PhoneCall | None:
    """A softphone row as stored now."""
    with sessions() as session:
        return session.get(PhoneCall, call_sid)


# The softphone's rows


def test_a_phone_call_added_reads_back_its_state(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        phone_calls.add(session, "CAphone1", {"caller": {"said": "您好"}}, T0)
    with sessions() as session:
        assert phone_calls.read_state(session, "CAphone1") == {"caller": {"said": "您好"}}
        assert phone_calls.read_state(session, "CAnone") is None
    row = phone_row(sessions, "CAphone1")
    assert row is not None and '"您好"' in row.state  # kept readable, not \\u-escaped
    assert utc(row.updated_at) == T0


def test_saving_a_state_sets_its_time_only_when_given(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        phone_calls.add(session, "CAphone1", {"n": 0}, T0)
    with sessions.begin() as session:
        assert phone_calls.save_state(session, "CAphone1", {"n": 1})
    row = phone_row(sessions, "CAphone1")
    assert row is not None and (row.state, utc(row.updated_at)) == ('{"n": 1}', T0)
    later = T0 + timedelta(minutes=5)
    with sessions.begin() as session:
        assert phone_calls.save_state(session, "CAphone1", {"n": 2}, later)
        assert phone_calls.read_state(session, "CAphone1") == {"n": 2}  # in the same session
    row = phone_row(sessions, "CAphone1")
    assert row is not None and (row.state, utc(row.updated_at)) == ('{"n": 2}', later)
    with sessions.begin() as session:
        assert not phone_calls.save_state(session, "CAnone", {"n": 3}, later)
    assert phone_row(sessions, "CAnone") is None


def test_a_sweep_deletes_only_calls_saved_before_its_time(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        phone_calls.add(session, "CAold", {}, T0 - timedelta(hours=2))
        phone_calls.add(session, "CAnew", {}, T0)
    with sessions.begin() as session:
        phone_calls.sweep(session, T0 - timedelta(hours=1))
    with sessions() as session:
        assert session.scalars(select(PhoneCall.call_sid)).all() == ["CAnew"]


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_locks_the_row_with_the_actions_timeouts(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        phone_calls.add(session, "CAphone1", {"n": 0}, T0)
    with sessions.begin() as session:
        assert phone_calls.lock_state(session, "CAphone1", 1500) == {"n": 0}
        assert session.execute(text("SHOW lock_timeout")).scalar() == "1500ms"
        assert session.execute(text("SHOW statement_timeout")).scalar() == "6500ms"
        assert phone_calls.lock_state(session, "CAnone", 1500) is None
    with sessions() as session:  # SET LOCAL: the limits ended with the transaction
        assert session.execute(text("SHOW lock_timeout")).scalar() == "3s"


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_a_locked_row_makes_others_wait_and_the_sweep_skip_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        phone_calls.add(session, "CAold", {"n": 0}, T0 - timedelta(hours=2))
    with sessions.begin() as holder:
        phone_calls.lock_state(holder, "CAold", 1000)
        with sessions() as other, pytest.raises(DBAPIError) as waited:
            phone_calls.lock_state(other, "CAold", 100)
        assert waited.value.orig.sqlstate == "55P03"  # lock_timeout: the softphone's busy
        with sessions.begin() as sweeper:
            phone_calls.sweep(sweeper, T0)
        phone_calls.save_state(holder, "CAold", {"n": 1}, T0)
    with sessions() as session:  # the locked row was left for the next sweep
        assert phone_calls.read_state(session, "CAold") == {"n": 1}
    with sessions.begin() as sweeper:
        phone_calls.sweep(sweeper, T0 + timedelta(seconds=1))
    assert phone_row(sessions, "CAold") is None


# The operator's call records


def add_call(session: Session, call_sid: str, started: datetime, **columns: object) -> None:
    """A call row that started at `started` and was last updated a minute later."""
    values = {
        "from_number": "+8613800138000",
        "node": "main",
        "seq": 1,
        "started_at": started,
        "updated_at": started + timedelta(minutes=1),
        **columns,
    }
    session.add(Call(call_sid=call_sid, **values))  # fmt: skip


def add_events(session: Session, call_sid: str, *outcomes: str) -> None:
    """The call's event log, one step per outcome."""
    for seq, outcome in enumerate(outcomes, 1):
        session.add(CallEvent(call_sid=call_sid, seq=seq, node="main", input_masked="*",
                              outcome=outcome, at=T0 + timedelta(seconds=seq)))  # fmt: skip


@pytest.fixture
def calls(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Three calls: a verified one with a person and two events, one unverified, one new."""
    with sessions.begin() as session:
        person = Person(id_number=ID_NUMBER, card_number="A12345678", name="王建国",
                        pin_hash="x", insured_region="110101", scheme="employee",
                        insured_status="active", balance_fen=0,
                        balance_as_of=date(2026, 11, 25))  # fmt: skip
        session.add(person)
        session.flush()
        add_call(session, "CAverified", T0, person_id=person.id, verified=True, lang="zh-CN")
        add_call(session, "CAidentified", T0 + timedelta(hours=1), person_id=person.id,
                 from_number="8613900139000", ended=True)  # fmt: skip
        add_call(session, "CAnew", T0 + timedelta(hours=2))
        add_events(session, "CAverified", "menu", "pin_ok")
        add_events(session, "CAidentified", "id_ok")
    return sessions


def test_calls_come_newest_first_with_their_person_and_event_summary(calls) -> None:
    with calls() as session:
        rows = call_log.find_calls(session, None, (), 10)
    assert [r.call_sid for r in rows] == ["CAnew", "CAidentified", "CAverified"]
    new, identified, verified = rows
    assert (new.id_number, new.events, new.last_outcome, new.lang) == (None, 0, None, None)
    assert (identified.id_number, identified.verified, identified.ended) == (ID_NUMBER, False, True)
    assert (identified.events, identified.last_outcome) == (1, "id_ok")
    assert (verified.id_number, verified.verified, verified.lang) == (ID_NUMBER, True, "zh-CN")
    assert (verified.events, verified.last_outcome) == (2, "pin_ok")
    assert verified.from_number == "+8613800138000" and verified.node == "main"
    assert (utc(verified.started_at), utc(verified.updated_at)) == (T0, T0 + timedelta(minutes=1))


def sids(calls: sessionmaker[Session], *args: object, **options: object) -> list[str]:
    """The CallSids find_calls gives, each search in a session of its own (as the CLI's)."""
    with calls() as session:
        return [row.call_sid for row in call_log.find_calls(session, *args, **options)]


def test_calls_are_filtered_by_time_number_and_sid_and_limited(calls) -> None:
    since = (T0 + timedelta(minutes=30)).astimezone(SHANGHAI)  # any zone will do
    assert sids(calls, since, (), 10) == ["CAnew", "CAidentified"]
    assert sids(calls, None, ("+8613900139000", "8613900139000"), 10) == ["CAidentified"]
    assert sids(calls, None, (), 1) == ["CAnew"]
    assert sids(calls, None, (), 1, call_sid="CAverified") == ["CAverified"]
    assert sids(calls, None, (), 1, call_sid="CAnone") == []


def test_a_calls_events_come_in_the_order_written(calls) -> None:
    with calls() as session:
        events = call_log.find_events(session, "CAverified")
        assert call_log.find_events(session, "CAnone") == []
    assert [(e.seq, e.node, e.input_masked, e.outcome) for e in events] == [
        (1, "main", "*", "menu"),
        (2, "main", "*", "pin_ok"),
    ]
    assert [utc(e.at) for e in events] == [T0 + timedelta(seconds=s) for s in (1, 2)]


# Read-backs and the health check


def test_a_read_back_is_kept_with_the_step_that_adds_it(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        add_read_back(session, "tok1", "CAphone1", 3, "zh-CN", "余额 12 元", 1_800_000_000)
    with sessions.begin() as session:  # rolled back with its step: nothing kept
        add_read_back(session, "tok2", "CAphone1", 4, "zh-CN", "再见", 1_800_000_000)
        session.rollback()
    with sessions() as session:
        audio = session.get(CallAudio, "tok1")
        assert audio is not None and session.get(CallAudio, "tok2") is None
        assert (audio.call_sid, audio.seq, audio.lang, audio.text, audio.expires_at) == (
            "CAphone1",
            3,
            "zh-CN",
            "余额 12 元",
            1_800_000_000,
        )


def test_the_health_check_passes_or_says_why_not(engine: Engine, tmp_path: Path) -> None:
    assert write_refused(engine) is None
    broken = make_engine(f"sqlite:///{tmp_path / 'missing' / 'ivr.sqlite3'}")
    assert write_refused(broken) == "database unreachable"
    broken.dispose()
