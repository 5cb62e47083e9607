"""Calls nobody ended are closed as lost when new calls start, a few at a time.

Twilio's status callback ends a call; when it never comes (lost, or refused while the
database was down), the call would stay live forever. After a new call's first answer,
at most once a minute per process, calls idle past IVR_CALL_MAX_IDLE are closed, and
counted as ivr_calls_total{outcome="lost"}. `calls sweep` closes them all.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta

from flask import Flask, Response, current_app, g, request

from ivr.web import observe
from ivr.web.context import hotline, step_db
from store.lost_calls import close_idle_calls

SWEEP_EVERY = timedelta(minutes=1)  # of the hotline's clock, per process: a start stays fast
SWEEP_BATCH = 50  # calls closed by one sweep at most; the next sweeps take the rest
_KEY = "ivr_lost_sweep"


class Throttle:
    """When this process last swept; lets one thread sweep per SWEEP_EVERY."""

    def __init__(self) -> None:
        """Never swept yet."""
        self.lock = threading.Lock()
        self.last: datetime | None = None

    def due(self, now: datetime) -> bool:
        """True (and noted) when a sweep is due at `now`; a clock set back is due at once."""
        with self.lock:
            if self.last is not None and self.last <= now < self.last + SWEEP_EVERY:
                return False
            self.last = now
            return True


def install(app: Flask) -> None:
    """Sweep after a new call's answer; to be called after observe.install."""
    # After-request hooks run last-registered first: the sweep notes its count, then
    # observe's hook counts and logs the request.
    app.extensions[_KEY] = Throttle()
    app.after_request(_sweep_after_start)


def _sweep_after_start(response: Response) -> Response:
    """After a call's first answer went well, close idle calls if this process is due."""
    if request.endpoint != "voice.incoming" or response.status_code != 200 or g.get("refused"):
        return response
    line = hotline()
    now = line.clock().astimezone(UTC)
    if not current_app.extensions[_KEY].due(now):
        return response
    db = step_db()  # the request's connection, its step committed
    try:
        before = now - timedelta(seconds=line.call_max_idle)
        closed = close_idle_calls(db.connection, before, now, SWEEP_BATCH)
        db.commit()
    except Exception as exc:  # a side task: the new call's answer must go out whatever happens
        with contextlib.suppress(Exception):  # a dead connection is closed at teardown
            db.rollback()
        current_app.logger.warning("idle calls not swept: %s", type(exc).__name__)
        return response
    if closed:
        observe.note_lost(len(closed))
        current_app.logger.info("closed %d call(s) idle over %d s as lost", len(closed),
                                line.call_max_idle, extra={"call_sids": closed})  # fmt: skip
    return response
