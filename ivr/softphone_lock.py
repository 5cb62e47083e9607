"""One action at a time per softphone call, whichever worker runs it.

PostgreSQL locks the call's row (SELECT … FOR UPDATE) for the whole action. SQLite has no
row locks, and holding its database-wide write lock would stall the very hotline the action
calls, so there the row is claimed by a lease kept in its state, and released after.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from ivr.app import Hotline
from store.models import PhoneCall

WAIT_SECONDS = 15  # for another action on the call to finish (gunicorn kills at 30 s)
LEASE_SECONDS = 60  # a lease left by a killed worker lapses after this
POLL_SECONDS = 0.02
LEASE = "lease_until"  # Unix time, in a leased row's state


class CallBusy(Exception):
    """Another action on the call ran for longer than WAIT_SECONDS."""


@dataclass
class Held:
    """A locked call: its saved state (None for no such call), and the state to save."""

    saved: dict[str, Any] | None
    new: dict[str, Any] | None = None

    def save(self, state: dict[str, Any]) -> None:
        """Save `state` when the lock is released (nothing is saved on an error)."""
        self.new = state


@contextmanager
def held(line: Hotline, call_sid: str, now: datetime) -> Iterator[Held]:
    """The call's state, locked until the block ends; a saved state gets `now` as its time."""
    locked = _row_locked if line.engine.dialect.name == "postgresql" else _leased
    with locked(line, call_sid, now) as call:
        yield call


@contextmanager
def _row_locked(line: Hotline, call_sid: str, now: datetime) -> Iterator[Held]:
    """PostgreSQL: the row locked FOR UPDATE in a transaction that ends with the action."""
    wait_ms = WAIT_SECONDS * 1000
    with line.sessions.begin() as session:
        # The engine's 3 s lock timeout is for webhooks; an action may take longer.
        session.execute(text(f"SET LOCAL lock_timeout = {wait_ms}"))
        session.execute(text(f"SET LOCAL statement_timeout = {wait_ms + 5000}"))
        query = select(PhoneCall).where(PhoneCall.call_sid == call_sid).with_for_update()
        row = session.scalar(query)
        call = Held(json.loads(row.state) if row is not None else None)
        yield call
        if row is not None and call.new is not None:
            row.state, row.updated_at = _dumps(call.new), now


@contextmanager
def _leased(line: Hotline, call_sid: str, now: datetime) -> Iterator[Held]:
    """SQLite: the row claimed by a lease in short transactions, so none is open meanwhile."""
    saved = _claim(line, call_sid)
    call = Held(saved)
    try:
        yield call
    finally:
        if saved is not None:
            _release(line, call_sid, call.new or saved, now if call.new is not None else None)


def _claim(line: Hotline, call_sid: str) -> dict[str, Any] | None:
    """Wait for the call's lease to be free and take it; its state without the lease."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with line.sessions.begin() as session:  # BEGIN IMMEDIATE: claims never interleave
            row = session.get(PhoneCall, call_sid)
            if row is None:
                return None
            state = json.loads(row.state)
            if state.get(LEASE, 0) < time.time():
                row.state = _dumps({**state, LEASE: time.time() + LEASE_SECONDS})
                return {key: value for key, value in state.items() if key != LEASE}
        if time.monotonic() >= deadline:
            raise CallBusy(call_sid)
        time.sleep(POLL_SECONDS)


def _release(line: Hotline, call_sid: str, state: dict[str, Any], now: datetime | None) -> None:
    """Write the state back without the lease (and the time, when it changed)."""
    with line.sessions.begin() as session:
        row = session.get(PhoneCall, call_sid)
        if row is not None:  # swept meanwhile: nothing to keep
            row.state = _dumps(state)
            if now is not None:
                row.updated_at = now


def _dumps(state: dict[str, Any]) -> str:
    """A state as the row keeps it."""
    return json.dumps(state, ensure_ascii=False)
