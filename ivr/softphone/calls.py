"""Softphone calls: a simulated caller per call, dialling an in-process copy of the hotline.

gunicorn may send each of the page's requests to another worker, so a call's caller is saved
in `phone_calls` after every action and rebuilt before the next, its row locked meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app, request

from ivr.core.model import Menu
from ivr.qa.targets import IN_PROCESS_VOICE, status_url
from ivr.sim.caller import Caller
from ivr.sim.speech import NotListening, require_input
from ivr.sim.state import StateError, restore, snapshot
from ivr.sim.transport import FreshContextTransport, SimulatorError, WebhookError
from ivr.sim.twiml_check import TwimlChecker, TwimlInvalid
from ivr.softphone.lock import held
from ivr.softphone.page_json import call_json, mask_entries, node_of
from ivr.web.context import hotline
from ivr.web.steps import edition_of
from store import phone_calls, repo

EXTENSION = "softphone"  # the in-process hotline, on current_app.extensions
MAX_AGE = timedelta(hours=1)  # older calls are deleted when a new one starts
# What Twilio itself rejects: a bad answer, or TwiML its checker refuses.
REJECTED = (WebhookError, TwimlInvalid)
_building = threading.Lock()


class PhoneError(Exception):
    """An action the API refuses, with its HTTP status and a sentence for the page."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the status; the message is the error the page shows."""
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Dialler:
    """The hotline the softphone's callers reach: this app again, in this process."""

    app: Flask
    auth_token: str | None
    checker: TwimlChecker | None  # Twilio's TwiML checker, when the shared folder has it

    def caller(self, data: dict[str, Any] | None = None, from_: str = "") -> Caller:
        """A new caller from `from_`, or the saved one `data` rebuilt."""
        transport = FreshContextTransport(self.app)
        if data is not None:
            return restore(data, transport, auth_token=self.auth_token, checker=self.checker)
        return Caller(transport, auth_token=self.auth_token, from_=from_, checker=self.checker,
                      status_callback=status_url(IN_PROCESS_VOICE))  # fmt: skip


def dialler() -> Dialler:
    """This process's in-process hotline, built on first use."""
    extensions = current_app.extensions
    with _building:
        if EXTENSION not in extensions:
            extensions[EXTENSION] = _build()
    return extensions[EXTENSION]


def _build() -> Dialler:
    """The hotline again, as in_process_app makes it, with read-backs telling their text.

    It serves no softphone itself, and uses relative links: its callers reach it here, not
    at IVR_PUBLIC_URL. Its own request log stays quiet; the page's requests are logged.
    """
    config = {**current_app.config, "IVR_SOFTPHONE": "0", "IVR_AUDIO_TEXT": "1",
              "IVR_PUBLIC_URL": "", "IVR_REQUEST_LOG": False,
              "IVR_RATE_LIMIT_CALLER": "off", "IVR_RATE_LIMIT_ADDRESS": "off"}  # fmt: skip
    app = hotline().make_app(config)
    return Dialler(app, app.config["IVR_AUTH_TOKEN"] or None, TwimlChecker())


def _now() -> datetime:
    """The hotline's clock, in UTC (SQLite keeps no zone)."""
    return hotline().clock().astimezone(UTC)


def _json(caller: Caller, turns: list) -> dict[str, Any]:
    """The call as the API returns it; audio paths under this app's mount point."""
    return call_json(caller, turns, request.script_root)


def start(from_: str) -> dict[str, Any]:
    """Dial the hotline from `from_`, save the caller, and return the call with every turn."""
    caller = dialler().caller(from_=from_)
    try:
        caller.dial()
    except (*REJECTED, SimulatorError) as exc:
        caller.hangup()  # Twilio ends a call after an application error
        raise PhoneError(502, f"the hotline's answer was rejected: {exc}") from exc
    now = _now()
    with hotline().sessions.begin() as session:
        phone_calls.sweep(session, now - MAX_AGE)
        phone_calls.add(session, caller.call_sid, {"caller": snapshot(caller)}, now)
    return _json(caller, caller.transcript)


def show(call_sid: str) -> dict[str, Any]:
    """The call with every turn so far."""
    with hotline().sessions() as session:
        saved = phone_calls.read_state(session, call_sid)
    if saved is None:
        raise PhoneError(404, f"there is no softphone call {call_sid}")
    caller = _rebuild(saved)
    return _json(caller, caller.transcript)


def press(call_sid: str, keys: str) -> dict[str, Any]:
    """Key `keys` into the waiting Gather."""
    return _act(call_sid, "press keys", lambda caller: caller.press(keys), speech=False)


def say(call_sid: str, text: str, confidence: float) -> dict[str, Any]:
    """Say `text` into the waiting Gather, which must listen for speech."""
    return _act(call_sid, "say", lambda caller: caller.say(text, confidence), speech=True)


def silence(call_sid: str) -> dict[str, Any]:
    """Let the waiting Gather time out."""
    return _act(call_sid, "stay silent", lambda caller: caller.silence())


def hangup(call_sid: str) -> dict[str, Any]:
    """Hang up; the status callback tells the hotline, which drops the call's audio."""
    return _act(call_sid, "hang up", lambda caller: caller.hangup(), need_waiting=False)


def _act(call_sid: str, what: str, action: Callable[[Caller], object], *,
         need_waiting: bool = True, speech: bool | None = None) -> dict[str, Any]:  # fmt: skip
    """Run one caller action with the call's row locked; return the turns it added."""
    problem: PhoneError | None = None
    with held(hotline(), call_sid, _now()) as call:
        if call.saved is None:
            raise PhoneError(404, f"there is no softphone call {call_sid}")
        caller = _rebuild(call.saved)
        _check_can(caller, what, need_waiting, speech)
        mark = len(caller.transcript)
        waited_at = node_of(caller.waiting.action) if caller.waiting else None
        problem = _run(caller, action)
        added = caller.transcript[mark:]
        mask_entries(_call_menu(call_sid), added, waited_at)
        call.save({"caller": snapshot(caller)})
        reply = _json(caller, added)
    if problem is not None:  # raised once the turns so far are saved, for GET to show
        raise problem
    return reply


def _call_menu(call_sid: str) -> Menu:
    """The menu version the hotline serves this call in: masking must know its PIN node."""
    with hotline().sessions() as session:
        row = repo.peek_call(session, call_sid)
        return edition_of(session, hotline().editions, row).menu


def _rebuild(saved: dict[str, Any]) -> Caller:
    """The caller of a saved row; one saved by another version is refused (409)."""
    data = saved.get("caller") if isinstance(saved, dict) else None
    try:
        return dialler().caller(data if isinstance(data, dict) else {})
    except StateError as exc:
        raise PhoneError(409, f"{exc}: start a new call") from exc


def _check_can(caller: Caller, what: str, need_waiting: bool, speech: bool | None) -> None:
    """Refuse an action the call cannot take: 409, with the reason; `speech` True for words,
    False for keys (the waiting Gather must take them), None for neither."""
    if caller.ended:
        end = caller.end_state.value if caller.end_state else "unknown"
        raise PhoneError(409, f"cannot {what}: the call has ended ({end})")
    if need_waiting and caller.waiting is None:
        raise PhoneError(409, f"cannot {what}: the call is not waiting for keys")
    if speech is not None:
        try:
            require_input(caller.waiting, speech)
        except NotListening as exc:
            raise PhoneError(409, f"cannot {what}: {exc}") from None


def _run(caller: Caller, action: Callable[[Caller], object]) -> PhoneError | None:
    """Run the action; what the hotline answered that Twilio would reject is a 502.

    A call that cannot go on is hung up, as Twilio ends a call after an application error,
    so it never stays open with nothing to wait at.
    """
    try:
        action(caller)
    except REJECTED as exc:
        problem = PhoneError(502, f"the hotline's answer was rejected: {exc}")
    except SimulatorError as exc:
        if caller.ended:  # keys typed past the end of the call, as on a real phone: lost
            return None
        problem = PhoneError(502, f"the call cannot go on: {exc}")
    except Exception as exc:  # the simulator choked on an answer: the turns so far are kept
        current_app.logger.exception("softphone call %s: the simulator failed", caller.call_sid)
        problem = PhoneError(502, f"the call cannot go on: {exc!r}")
    else:
        return None
    if not caller.ended:
        caller.hangup()
    return problem
