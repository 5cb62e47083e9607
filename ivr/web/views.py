"""The webhook views: a thin adapter that parses the form, loads state, steps and renders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from ivr.core.engine import PIN_DIGITS
from ivr.core.events import CallState, Event, Keys, Note, Resume, Say, Silence, Start
from ivr.core.model import Menu
from ivr.web import observe
from ivr.web.audio_views import play_links, tidy_audio
from ivr.web.context import CALL_SID, hotline, step_db
from ivr.web.links import public_path
from ivr.web.request import (
    CallForm,
    field_of,
    keys_url,
    parse_form,
    path_of,
    signed,
    silence_url,
)
from ivr.web.served import ServedMenu
from ivr.web.steps import (
    PinCheck,
    StepDb,
    drive,
    edition_of,
    mask_input,
    pin_to_check,
    state_of,
    store_state,
)
from store import lockout, repo
from store.db import READ_ONLY
from store.health import write_refused
from store.lockout import PinVerdict

voice = Blueprint("voice", __name__)
health = Blueprint("health", __name__)

FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def _xml(document: str, headers: dict[str, str] | None = None) -> Response:
    """A TwiML response."""
    return Response(document, status=200, headers=headers, mimetype="text/xml")


# Registered first, so that junk with bad signatures counts against its address too.
@voice.before_request
def throttle() -> Response | None:
    """Over a rate limit: a real caller hears the busy message, anyone else gets a 429."""
    limits = hotline().rate_limits
    # Status callbacks end calls and their read-back URLs: never refuse them.
    if limits is None or request.endpoint == "voice.status":
        return None
    call_sid = request.form.get("CallSid", "")
    g.call_sid = call_sid if CALL_SID.fullmatch(call_sid) else None
    # Only a signed request may count against a caller number: else anyone could post
    # junk "From" a victim's number and have the hotline refuse their real calls.
    caller = request.form.get("From", "")[:32] if signed() else ""
    scope = limits.exceeded(caller, request.remote_addr or "")
    if scope is None:
        return None
    observe.note_refused("rate_limited", scope)
    if signed() and g.call_sid:
        return _spoken(None, "busy")
    return Response(f"too many requests ({scope})\n", 429, {"Retry-After": "60"},
                    mimetype="text/plain")  # fmt: skip


@voice.before_request
def check_signature() -> Response | None:
    """Refuse a request without a valid X-Twilio-Signature when a token is set: 403."""
    if signed():
        return None
    return Response("invalid or missing X-Twilio-Signature\n", 403, mimetype="text/plain")


@voice.errorhandler(Exception)
def apologise(exc: Exception) -> Response | HTTPException:
    """Never a 500: an unexpected error is logged and the caller hears an apology."""
    if isinstance(exc, HTTPException):
        return exc
    current_app.logger.exception("webhook failed; the caller heard the error message")
    observe.note_refused("error")
    return _spoken(g.get("call_lang"), "error", "goodbye")


def _spoken(lang: str | None, *prompts: str) -> Response:
    """Speak fixed prompts in a language and hang up (busy, error, agent unavailable)."""
    menu = hotline().menu
    says = [Say(menu.text(name, lang), menu.prompt(name, lang).lang) for name in prompts]
    return _xml(hotline().renderer.spoken(says, play_links(None, None, 0)))


def _event(kind: str, state: CallState | None, form: CallForm, edition: ServedMenu) -> Event:
    """What this request means, given where the call really is."""
    env = hotline().env(edition)
    if state is None:
        return Start(env)  # a new call, or an unknown CallSid: from the start
    expected = (request.args.get("node"), request.args.get("seq"))
    if kind == "start" or state.ended or expected != (state.node, str(state.seq)):
        return Resume(env)  # a replayed or stale URL is answered from where the call is
    return Keys(form.digits, env) if kind == "keys" else Silence(env)


def _answer(kind: str) -> Response:
    """Handle one webhook request of the given kind (start, keys, silence)."""
    form = parse_form()
    line = hotline()
    before: CallState | None = None
    db: StepDb | None = None
    try:
        verdict = _verify_ahead(form) if kind == "keys" else None
        db = step_db()  # after the PIN's look-ahead: one connection at a time
        row = repo.load_call(db.connection, form.call_sid)
        before = state_of(row) if row is not None else None
        g.call_lang = before.lang if before else None  # so an apology is in the caller's language
        document, edition, headers = _step(db, kind, form, row, before, verdict)
        db.commit()
        if row is None:  # store_state offered this version's files with the new call
            line.editions.saved.add(edition.version)
    except DBAPIError as exc:
        if db is not None:
            db.rollback()
        current_app.logger.warning("database error, caller told the system is busy: %s",
                                   type(exc.orig).__name__)  # fmt: skip
        observe.forget_step()  # rolled back: it did not happen
        observe.note_refused("busy")
        return _spoken(before.lang if before else None, "busy")
    return _xml(document, headers)


def _step(db: StepDb, kind: str, form: CallForm, row, before: CallState | None,
          verdict: PinVerdict | None) -> tuple[str, ServedMenu, dict[str, str]]:  # fmt: skip
    """Step the call in the request's transaction: its TwiML, the call's menu version, and
    the answer's headers (the engine's trace)."""
    line = hotline()
    # A call keeps the menu version it started with, whatever reload brings meanwhile.
    edition = edition_of(db.connection, line.editions, row)
    menu = edition.menu
    event = _event(kind, before, form, edition)
    now = line.clock().astimezone(UTC)  # SQLite keeps no zone: always store UTC
    pins = _pin_check(form.from_number, now, verdict)
    result = drive(db, menu, before or CallState(menu.start), event, pins)
    state = replace(result.state, seq=(before.seq if before else 0) + 1)
    store_state(db.connection, row, form.call_sid, form.from_number, state, now, edition,
                line.editions.saved)  # fmt: skip
    _log(db.connection, menu, form, before, event, result.actions, now)
    if state.ended and not (before and before.ended):
        observe.note_call_end(observe.call_outcome(g.step_outcomes))
    session = None
    if line.catalogue is not None:  # play mode: read-backs are rows the session adds
        session = db.session
        tidy_audio(db.connection, form.call_sid, isinstance(event, Start), state.ended,
                   int(now.timestamp()))  # fmt: skip
    play = play_links(session, form.call_sid, state.seq, edition.static_audio)
    dialled = public_path(path_of("voice.dialled"))
    document = edition.renderer.render(
        result.actions, state.seq, keys_url, silence_url, dialled, play
    )
    return document, edition, result.headers()


def _verify_ahead(form: CallForm) -> PinVerdict | None:
    """A keyed PIN checked before the request's transaction, so the hash holds no lock."""
    keys = hotline().pins
    if keys is None or not PIN_DIGITS.fullmatch(form.digits):
        return None  # most keys are no PIN: no extra connection for them
    session = hotline().sessions()
    try:
        session.connection(execution_options={READ_ONLY: True})
        found = pin_to_check(
            session, lambda row: edition_of(session, hotline().editions, row).menu, form.call_sid
        )
    finally:
        session.close()  # even a read lock would hold up SQLite's writers during the hash
    return lockout.verify(keys, found[0], form.digits, found[1]) if found else None


def _pin_check(caller: str, now: datetime, verdict: PinVerdict | None) -> PinCheck:
    """How this request checks a PIN: the verdict, and the per-number throttle if set."""
    # Callers who withhold their number share one count: hiding it must not escape the limit.
    line = hotline()
    return PinCheck(verdict, caller or "anonymous", line.pin_limit, int(now.timestamp()),
                    line.pins)  # fmt: skip


def _log(connection, menu: Menu, form: CallForm, before: CallState | None, event: Event, actions,
         now) -> None:  # fmt: skip
    """Append the step to the call-event log and the app log, input masked."""
    node = before.node if before else menu.start
    masked = mask_input(menu, node, form.digits) if isinstance(event, Keys) else ""
    outcome = "; ".join(a.outcome for a in actions if isinstance(a, Note))[:64] or "-"
    repo.add_event(connection, form.call_sid, before.seq + 1 if before else 1, node, masked,
                   outcome, now)  # fmt: skip
    # The request's log line and metrics take the node and outcomes; never the keys.
    observe.note_step(node, [a.outcome for a in actions if isinstance(a, Note)])


@voice.post("/voice")
def incoming() -> Response:
    """A call arrives: the welcome and the main menu."""
    return _answer("start")


@voice.post("/voice/keys")
def keys() -> Response:
    """The caller keyed digits into a Gather."""
    return _answer("keys")


@voice.post("/voice/silence")
def silence() -> Response:
    """A Gather timed out with no input."""
    return _answer("silence")


def _note_call_end(call_sid: str, outcome: str, *, end: bool, strict: bool = False) -> str | None:
    """Log how a call or its agent leg ended; mark the call over when `end`.

    Returns the call's language, so that what follows is said in it. A database error is
    logged and rolled back, then raised again when `strict`.
    """
    db: StepDb | None = None
    lang = None
    try:
        db = step_db()
        session = db.connection
        row = repo.load_call(session, call_sid)
        now = hotline().clock().astimezone(UTC)
        if row is not None:
            lang = row.lang
        if row is not None and not (end and row.ended):
            if end:
                repo.save_call(session, call_sid, {"ended": True, "updated_at": now}, new=False)
                observe.note_call_end("abandoned")  # Twilio says it is over; we had not ended it
            repo.add_event(session, call_sid, row.seq, row.node, "", outcome, now)
        if end:  # the call is over: its read-back audio goes with it
            repo.drop_audio(session, call_sid, int(now.timestamp()))
        db.commit()
    except DBAPIError as exc:
        if db is not None:
            db.rollback()
        observe.forget_step()  # the end was not recorded: not counted either
        current_app.logger.warning(
            "call %s: %r not recorded: %s", call_sid, outcome, type(exc.orig).__name__
        )  # a driver message may hold values
        if strict:
            raise
    return lang


@voice.post("/voice/dialled")
def dialled() -> Response:
    """The agent leg of a <Dial> ended: hang up after a talk, apologise when unanswered."""
    dial_status = field_of("DialCallStatus", 32)
    lang = _note_call_end(parse_form().call_sid, f"dial {dial_status or 'unknown'}", end=False)
    if dial_status in ("completed", "answered"):
        return _xml(hotline().renderer.spoken([]))
    return _spoken(lang, "agent_unavailable", "goodbye")


@voice.post("/voice/status")
def status() -> Response:
    """Twilio's call-status callback: a call that is over is marked ended and logged."""
    call_status = field_of("CallStatus", 32)
    form = parse_form()
    if call_status in FINAL_STATUSES:
        try:
            _note_call_end(form.call_sid, f"status {call_status}", end=True, strict=True)
        except DBAPIError:
            # Twilio shows a 5xx in its debugger; a 204 would hide a call left live.
            return Response("call end not recorded: database error\n", 503,
                            mimetype="text/plain")  # fmt: skip
    return Response(status=204)


@health.get("/healthz")
def healthz() -> Response:
    """200 when the database takes a write within 1 s (ready to serve calls), else 503."""
    refused = write_refused(hotline().engine)
    if refused is not None:
        return Response(f"{refused}\n", 503, mimetype="text/plain")
    return Response("ok\n", 200, mimetype="text/plain")
