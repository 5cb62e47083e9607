"""One step of a call, answered: load the call's row, step the engine, render, save.

A request for the step a call has just taken gets that step's stored answer again: a
repeated first request, and Twilio's fallback request after a step committed but its answer
never reached Twilio, or after the audio of that answer could not be fetched. A stale
request is answered from where the call is. Every path holds the call's row locked, so one
call's requests take turns whichever worker serves them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from flask import current_app, g
from sqlalchemy.exc import DBAPIError

from ivr.core.engine import PIN_DIGITS
from ivr.core.events import Action, CallState, Event, Keys, Note, Resume, Silence, Speech, Start
from ivr.core.model import Menu
from ivr.core.trace import TRACE_HEADER
from ivr.web import observe
from ivr.web.audio_views import play_links, tidy_audio
from ivr.web.context import hotline, step_db
from ivr.web.links import public_path
from ivr.web.request import CallForm, keys_url, path_of, silence_url
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
from store.lockout import PinVerdict

START, KEYS, SILENCE, AUDIO, STALE = "start", "keys", "silence", "audio", "stale"
# Which webhook (or a <Play>'s audio) a failed URL was, by its path (behind any proxy prefix).
_ROUTES = ((re.compile(r"(^|/)voice/keys$"), KEYS), (re.compile(r"(^|/)voice/silence$"), SILENCE),
           (re.compile(r"(^|/)voice$"), START), (re.compile(r"(^|/)audio/"), AUDIO))  # fmt: skip


@dataclass(frozen=True)
class Asked:
    """What a request asks: a step of a kind (start, keys, silence; audio: the last answer's
    <Play> failed; stale: answer from where the call is), at the node and seq its URL
    expects; a fallback has Twilio's error code."""

    kind: str
    expected: tuple[str | None, str | None] = (None, None)
    error: str | None = None  # the ErrorCode of a fallback request; None for the primary


class Busy(Exception):
    """The database failed: the step was rolled back, and the caller hears the busy message."""

    def __init__(self, lang: str | None) -> None:
        """Keep the call's language, so that the message is said in it."""
        super().__init__("database error")
        self.lang = lang


class _Raced(Exception):
    """Another request inserted this new call's row first (and has committed it)."""


def failed_request(error_url: str, error_code: str) -> Asked:
    """What the request that failed at Twilio's ErrorUrl asked; an unknown URL is stale."""
    code = re.sub(r"[^0-9]", "", error_code)[:8] or "unknown"
    try:
        parts = urlsplit(error_url)
        query = dict(parse_qsl(parts.query, max_num_fields=16))
    except ValueError:  # no URL at all: nothing to take from it
        return Asked(STALE, error=code)
    path = parts.path.rstrip("/")
    kind = next((kind for route, kind in _ROUTES if route.search(path)), STALE)
    return Asked(kind, (query.get("node"), query.get("seq")), code)


def answer(form: CallForm, asked: Asked) -> tuple[str, dict[str, str]]:
    """The TwiML that answers the request, and its headers; Busy if the database fails."""
    try:
        return _attempt(form, asked)
    except _Raced:
        # Our insert waited for the other request's transaction: its row is there to read.
        step_db().rollback()
        observe.forget_step()
        return _attempt(form, asked)


def _attempt(form: CallForm, asked: Asked) -> tuple[str, dict[str, str]]:
    """Answer the request in one transaction, committed before the answer is sent."""
    before: CallState | None = None
    db: StepDb | None = None
    try:
        verdict = _verify_ahead(form) if asked.kind == KEYS else None
        db = step_db()  # after the PIN's look-ahead: one connection at a time
        row = repo.load_call(db.connection, form.call_sid)
        before = state_of(row) if row is not None else None
        g.call_lang = before.lang if before else None  # so an apology is in the caller's language
        document, edition, headers = _step(db, asked, form, row, before, verdict)
        db.commit()
        if row is None:  # store_state offered this version's files with the new call
            hotline().editions.saved.add(edition.version)
    except DBAPIError as exc:
        if db is not None:
            db.rollback()
        current_app.logger.warning("database error, caller told the system is busy: %s",
                                   type(exc.orig).__name__)  # fmt: skip
        observe.forget_step()  # rolled back: it did not happen
        observe.note_refused("busy")
        raise Busy(before.lang if before else None) from exc
    return document, headers


def _step(db: StepDb, asked: Asked, form: CallForm, row, before: CallState | None,
          verdict: PinVerdict | None) -> tuple[str, ServedMenu, dict[str, str]]:  # fmt: skip
    """Step the call in the request's transaction: its TwiML, the call's menu version, and
    the answer's headers (the engine's trace)."""
    line = hotline()
    # A call keeps the menu version it started with, whatever reload brings meanwhile.
    edition = edition_of(db.connection, line.editions, row)
    now = line.clock().astimezone(UTC)  # SQLite keeps no zone: always store UTC
    stored = _stored_answer(asked, row)
    if stored is not None and before is not None:
        return _replay(db, asked, form, before, stored, now), edition, {TRACE_HEADER: ""}
    menu = edition.menu
    event = _event(asked, before, form, edition)
    pins = _pin_check(form.from_number, now, verdict)
    result = drive(db, menu, before or CallState(menu.start), event, pins)
    state = replace(result.state, seq=(before.seq if before else 0) + 1)
    document = _render(db, edition, form, state, isinstance(event, Start), result.actions, now)
    if not store_state(db.connection, row, form.call_sid, form.from_number, state, now, edition,
                       line.editions.saved, document):  # fmt: skip
        raise _Raced
    _log(db.connection, menu, form, before, event, result.actions, now, asked.error)
    if state.ended and not (before and before.ended):
        observe.note_call_end(observe.call_outcome(g.step_outcomes))
    return document, edition, result.headers()


def _event(asked: Asked, state: CallState | None, form: CallForm, edition: ServedMenu) -> Event:
    """What this request means, given where the call really is."""
    env = hotline().env(edition)
    if state is None:
        return Start(env)  # a new call, or an unknown CallSid: from the start
    expected = asked.expected
    if asked.kind not in (KEYS, SILENCE) or state.ended or expected != (state.node, str(state.seq)):
        return Resume(env)  # a replayed or stale URL is answered from where the call is
    if asked.kind == SILENCE:
        return Silence(env)
    if form.speech is not None and not form.digits:  # said, not keyed: Twilio sends one
        return Speech(form.speech, form.confidence, env)
    return Keys(form.digits, env)


def _stored_answer(asked: Asked, row) -> str | None:
    """The answer of the call's last step when this request asks for that step again.

    A first request that comes again hears the welcome again. A fallback for the step the
    call took last (it committed, and its answer was lost) hears what it would have heard,
    a balance or a transfer included, and so does one for audio of that answer that Twilio
    could not fetch. The call's end forgets its answer (repo.drop_audio).
    """
    if row is None or row.last_answer is None:
        return None
    fallback = asked.error is not None
    if asked.kind == START:
        again = row.seq == 1
    elif asked.kind == AUDIO:
        again = fallback
    else:
        again = fallback and asked.kind != STALE and asked.expected[1] == str(row.seq - 1)
    return row.last_answer if again else None


def _replay(db: StepDb, asked: Asked, form: CallForm, before: CallState, document: str,
            now: datetime) -> str:  # fmt: skip
    """The stored answer again; the call does not move, and its event log says so."""
    outcome = "replayed" + (f" after {asked.error}" if asked.error else "")
    repo.add_event(db.connection, form.call_sid, before.seq, before.node, "", outcome, now)
    observe.note_step(before.node, [outcome])
    return document


def _render(db: StepDb, edition: ServedMenu, form: CallForm, state: CallState, starts: bool,
            actions: list[Action], now: datetime) -> str:  # fmt: skip
    """The step's TwiML; in play mode read-backs become audio rows of the call."""
    session = None
    if hotline().catalogue is not None:  # play mode: read-backs are rows the session adds
        session = db.session
        tidy_audio(db.connection, form.call_sid, starts, state.ended, int(now.timestamp()))
    play = play_links(session, form.call_sid, state.seq, edition.static_audio)
    dialled = public_path(path_of("voice.dialled"))
    return edition.renderer.render(actions, state.seq, keys_url, silence_url, dialled, play)


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


def _log(connection, menu: Menu, form: CallForm, before: CallState | None, event: Event,
         actions: list[Action], now: datetime, error: str | None) -> None:  # fmt: skip
    """Append the step to the call-event log and the app log, input masked."""
    node = before.node if before else menu.start
    # What was said is never kept: at a PIN prompt it might be the PIN, spoken.
    masked = mask_input(menu, node, form.digits) if isinstance(event, Keys) else ""
    outcomes = [a.outcome for a in actions if isinstance(a, Note)]
    if error is not None:  # the primary handler failed, and the fallback took the step
        outcomes.insert(0, f"fallback after {error}")
    outcome = "; ".join(outcomes)[:64] or "-"
    repo.add_event(connection, form.call_sid, before.seq + 1 if before else 1, node, masked,
                   outcome, now)  # fmt: skip
    # The request's log line and metrics take the node and outcomes; never the keys.
    observe.note_step(node, outcomes)
