"""The call records operators read (`calls list`, `calls show`): calls and their event log.

Rows come back as they are stored, numbers unmasked: masking is the caller's job
(ivr/cli/records.py), so no one prints a row from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.db import READ_ONLY
from store.models import Call, CallEvent, Person


@dataclass(frozen=True)
class CallRow:
    """One call as stored, with its person's ID number and a summary of its event log."""

    call_sid: str
    started_at: datetime
    updated_at: datetime
    from_number: str
    lang: str | None
    node: str
    ended: bool
    verified: bool
    id_number: str | None  # the person the call identified, verified or not
    events: int
    last_outcome: str | None


@dataclass(frozen=True)
class EventRow:
    """One step of a call's event log; the input was masked before it was stored."""

    seq: int
    at: datetime
    node: str
    input_masked: str
    outcome: str


def _row(call: Call, id_number: str | None, events: int, last: str | None) -> CallRow:
    """A call, its person's ID number and event summary as one plain row."""
    return CallRow(call.call_sid, call.started_at, call.updated_at, call.from_number,
                   call.lang, call.node, call.ended, call.verified, id_number, events,
                   last)  # fmt: skip


def find_calls(session: Session, since: datetime | None, numbers: tuple[str, ...],
               limit: int, call_sid: str | None = None) -> list[CallRow]:  # fmt: skip
    """The calls that match, newest first, with their event count and last outcome."""
    mine = CallEvent.call_sid == Call.call_sid
    events = select(func.count(CallEvent.id)).where(mine).correlate(Call).scalar_subquery()
    last = (select(CallEvent.outcome).where(mine).order_by(CallEvent.id.desc()).limit(1)
            .correlate(Call).scalar_subquery())  # fmt: skip
    query = select(Call, Person.id_number, events, last).outerjoin(
        Person, Person.id == Call.person_id
    )
    if since is not None:
        # UTC: SQLite compares the stored (UTC) wall-clock text, PostgreSQL the instants.
        query = query.where(Call.started_at >= since.astimezone(UTC))
    if numbers:
        query = query.where(Call.from_number.in_(numbers))
    if call_sid is not None:
        query = query.where(Call.call_sid == call_sid)
    query = query.order_by(Call.started_at.desc(), Call.call_sid.desc()).limit(limit)
    # Read only: on SQLite a write lock would hold up every live call's next step.
    session.connection(execution_options={READ_ONLY: True})
    return [_row(*row) for row in session.execute(query).all()]


def find_events(session: Session, call_sid: str) -> list[EventRow]:
    """A call's event log in the order it was written."""
    rows = session.scalars(
        select(CallEvent).where(CallEvent.call_sid == call_sid).order_by(CallEvent.id)
    )
    return [EventRow(e.seq, e.at, e.node, e.input_masked, e.outcome) for e in rows]
