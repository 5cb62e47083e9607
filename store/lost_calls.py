"""Calls whose end was never reported (their status callback was lost or refused): once
idle past a limit, they are closed with a `lost` event, so that no call stays live forever."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, select, update

from store.models import Call, CallAudio, CallEvent

LOST = "lost"  # the closing event's outcome, and the calls' outcome in the metrics
_CALLS, _EVENTS, _AUDIO = Call.__table__, CallEvent.__table__, CallAudio.__table__


def close_idle_calls(connection: Connection, before: datetime, now: datetime,
                     limit: int) -> list[str]:  # fmt: skip
    """End at most `limit` live calls with no request since `before`; their CallSids.

    Each gets a `lost` event at its last node, timed `now`, and its read-back audio goes.
    Its updated_at stays its last request's time: `calls list` then shows how long the
    caller was heard. A call held by another transaction (a step in progress, another
    sweep) is left alone: on PostgreSQL SKIP LOCKED passes it over, and SQLite has one
    writer at a time. So two sweeps never close, or count, one call twice. The caller
    commits.
    """
    idle = (
        select(_CALLS.c.call_sid, _CALLS.c.seq, _CALLS.c.node)
        # UTC: SQLite compares the stored (UTC) wall-clock text, PostgreSQL the instants.
        .where(~_CALLS.c.ended, _CALLS.c.updated_at < before.astimezone(UTC))
        .order_by(_CALLS.c.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = connection.execute(idle).all()
    if not rows:
        return []
    sids = [row.call_sid for row in rows]
    # NOT ended again: what the select saw must still hold when the row is written.
    ended = update(_CALLS).where(_CALLS.c.call_sid.in_(sids), ~_CALLS.c.ended)
    connection.execute(ended.values(ended=True, last_answer=None))  # the balance words go too
    connection.execute(insert(_EVENTS), [
        {"call_sid": row.call_sid, "seq": row.seq, "node": row.node, "input_masked": "",
         "outcome": LOST, "at": now}
        for row in rows
    ])  # fmt: skip
    connection.execute(delete(_AUDIO).where(_AUDIO.c.call_sid.in_(sids)))
    return sids


def sweep_idle_calls(engine: Engine, before: datetime, now: datetime, batch: int = 500) -> int:
    """Close every live call with no request since `before`, a batch per transaction, so
    that live calls' steps wait for no long lock; how many were closed."""
    closed = 0
    with engine.connect() as connection:
        while True:
            done = close_idle_calls(connection, before, now, batch)
            connection.commit()
            closed += len(done)
            if len(done) < batch:
                return closed
