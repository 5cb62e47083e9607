"""The developer softphone's rows: each call's simulated caller, kept as JSON between actions.

The locking policy (a row lock on PostgreSQL, a lease on SQLite) is the softphone's own
(ivr/softphone/lock.py); these are the statements it runs.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from store.models import PhoneCall


def _dumps(state: dict[str, Any]) -> str:
    """A state as the row keeps it."""
    return json.dumps(state, ensure_ascii=False)


def _loads(row: PhoneCall | None) -> dict[str, Any] | None:
    """A row's state, or None for no such row."""
    return json.loads(row.state) if row is not None else None


def read_state(session: Session, call_sid: str) -> dict[str, Any] | None:
    """The call's saved state, or None when there is no such call."""
    return _loads(session.get(PhoneCall, call_sid))


def lock_state(session: Session, call_sid: str, wait_ms: int) -> dict[str, Any] | None:
    """PostgreSQL: the call's state, its row locked FOR UPDATE until the transaction ends.

    Waits at most `wait_ms` for another transaction's lock; past it PostgreSQL raises its
    lock_timeout error (SQLSTATE 55P03) as a DBAPIError.
    """
    wait_ms = int(wait_ms)  # formatted into SET LOCAL, which takes no bound parameters
    # The engine's 3 s lock timeout is for webhooks; an action may take longer.
    session.execute(text(f"SET LOCAL lock_timeout = {wait_ms}"))
    session.execute(text(f"SET LOCAL statement_timeout = {wait_ms + 5000}"))
    query = select(PhoneCall).where(PhoneCall.call_sid == call_sid).with_for_update()
    return _loads(session.scalar(query))


def save_state(session: Session, call_sid: str, state: dict[str, Any],
               now: datetime | None = None) -> bool:  # fmt: skip
    """Write the call's state (and `now` as its time, when given); False for no such call."""
    values: dict[str, Any] = {"state": _dumps(state)}
    if now is not None:
        values["updated_at"] = now
    query = update(PhoneCall).where(PhoneCall.call_sid == call_sid).values(**values)
    return session.execute(query).rowcount > 0


def sweep(session: Session, before: datetime) -> None:
    """Delete the calls last saved before `before`, but none a running action has locked."""
    old = select(PhoneCall.call_sid).where(PhoneCall.updated_at < before)
    # Rows locked by a running action are left for the next sweep (PostgreSQL).
    gone = old.with_for_update(skip_locked=True)
    session.execute(delete(PhoneCall).where(PhoneCall.call_sid.in_(gone)))


def add(session: Session, call_sid: str, state: dict[str, Any], now: datetime) -> None:
    """Save a new call's state, with `now` as its time."""
    session.add(PhoneCall(call_sid=call_sid, state=_dumps(state), updated_at=now))
