"""The webhook views: a thin adapter that parses the form, loads state, steps and renders."""

from __future__ import annotations

from datetime import UTC

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from ivr.core.events import Say
from ivr.web import observe
from ivr.web.answer import KEYS, SILENCE, START, Asked, Busy, answer, failed_request
from ivr.web.audio_views import play_links
from ivr.web.context import CALL_SID, hotline, step_db
from ivr.web.request import field_of, parse_form, signed
from ivr.web.steps import StepDb
from store import repo
from store.health import write_refused

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


def _answer(asked: Asked) -> Response:
    """Answer one step of a call (ivr.web.answer); the busy message if the database fails."""
    try:
        document, headers = answer(parse_form(), asked)
    except Busy as exc:
        return _spoken(exc.lang, "busy")
    return _xml(document, headers)


def _expected() -> tuple[str | None, str | None]:
    """The node and seq that this request's URL expects the call at."""
    return request.args.get("node"), request.args.get("seq")


@voice.post("/voice")
def incoming() -> Response:
    """A call arrives: the welcome and the main menu."""
    return _answer(Asked(START))


@voice.post("/voice/keys")
def keys() -> Response:
    """The caller keyed digits into a Gather."""
    return _answer(Asked(KEYS, _expected()))


@voice.post("/voice/silence")
def silence() -> Response:
    """A Gather timed out with no input."""
    return _answer(Asked(SILENCE, _expected()))


@voice.post("/voice/fallback")
def fallback() -> Response:
    """The number's "primary handler fails" URL: Twilio posts here, with the failed
    request's fields, ErrorCode and ErrorUrl, when a webhook failed (no answer, a 5xx, bad
    TwiML). The step is answered as that request would have been, from the stored call:
    taken now if it never committed, its answer repeated if it did (ivr.web.answer)."""
    return _answer(failed_request(field_of("ErrorUrl", 2048), field_of("ErrorCode", 16)))


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
