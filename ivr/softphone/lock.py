"""One action at a time per softphone call, whichever worker runs it.

PostgreSQL locks the call's row (SELECT … FOR UPDATE) for the whole action. SQLite has no
row locks, and holding its database-wide write lock would stall the very hotline the action
calls, so there the row is claimed by a lease kept in its state, and released after. A lease
names its owner: one that lapsed and was taken over is not released (nor saved) by the
worker that lost it, which fails its action as busy instead.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError

from ivr.web.context import Hotline
from store import phone_calls

WAIT_SECONDS = 15  # for another action on the call to finish (gunicorn kills at 30 s)
# A lease left by a killed worker lapses after this: well above the longest action, which
# gunicorn kills at 30 s, so a running action's lease never lapses under it.
LEASE_SECONDS = 120
POLL_SECONDS = 0.02
LEASE = "lease_until"  # Unix time, in a leased row's state
OWNER = "lease_owner"  # the holder's token (uuid4), in a leased row's state
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout
_LEASE_KEYS = (LEASE, OWNER)
log = logging.getLogger(__name__)


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
    locked = _row_locked if line.engine.dialect.name == "postgresql" else leased
    with locked(line, call_sid, now) as call:
        yield call


@contextmanager
def _row_locked(line: Hotline, call_sid: str, now: datetime) -> Iterator[Held]:
    """PostgreSQL: the row locked FOR UPDATE in a transaction that ends with the action."""
    wait_ms = int(WAIT_SECONDS * 1000)
    with line.sessions.begin() as session:
        try:
            call = Held(phone_calls.lock_state(session, call_sid, wait_ms))
        except DBAPIError as exc:  # waited WAIT_SECONDS for the other action: busy
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise CallBusy(call_sid) from exc
            raise
        yield call
        if call.new is not None:  # no such row: nothing is updated
            phone_calls.save_state(session, call_sid, call.new, now)


@contextmanager
def leased(line: Hotline, call_sid: str, now: datetime) -> Iterator[Held]:
    """SQLite: the row claimed by a lease in short transactions, so none is open meanwhile."""
    owner = uuid.uuid4().hex
    saved = _claim(line, call_sid, owner)
    call = Held(saved)
    if saved is None:
        yield call
        return
    try:
        yield call
    except BaseException:  # nothing is saved on an error: only the lease goes, if still ours
        _release(line, call_sid, owner, saved, None)
        raise
    state, changed = (saved, None) if call.new is None else (call.new, now)
    if not _release(line, call_sid, owner, state, changed):
        raise CallBusy(call_sid)


def _claim(line: Hotline, call_sid: str, owner: str) -> dict[str, Any] | None:
    """Wait for the call's lease to be free and take it for `owner`; its state without it."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with line.sessions.begin() as session:  # BEGIN IMMEDIATE: claims never interleave
            state = phone_calls.read_state(session, call_sid)
            if state is None:
                return None
            if state.get(LEASE, 0) < time.time():
                leased = {**state, LEASE: time.time() + LEASE_SECONDS, OWNER: owner}
                phone_calls.save_state(session, call_sid, leased)
                return {key: value for key, value in state.items() if key not in _LEASE_KEYS}
        if time.monotonic() >= deadline:
            raise CallBusy(call_sid)
        time.sleep(POLL_SECONDS)


def _release(line: Hotline, call_sid: str, owner: str, state: dict[str, Any],
             now: datetime | None) -> bool:  # fmt: skip
    """Write the state back without the lease (and the time, when it changed), if ours.

    False when the lease lapsed and another worker took it: its state is left alone.
    """
    with line.sessions.begin() as session:
        stored = phone_calls.read_state(session, call_sid)
        if stored is None:  # swept meanwhile: nothing to keep
            return True
        if stored.get(OWNER) != owner:
            log.warning("softphone call %s: its lease lapsed and was taken over; "
                        "this action's state is dropped", call_sid)  # fmt: skip
            return False
        phone_calls.save_state(session, call_sid, state, now)
        return True
