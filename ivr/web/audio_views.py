"""Prompt audio over HTTP: public static prompts, and read-backs at per-call secret URLs."""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, send_file, url_for
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ivr.core.events import Say
from ivr.errors import IvrError
from ivr.web.context import CALL_SID, Hotline, get_session, hotline
from ivr.web.links import absolute
from ivr.web.twiml import PlayUrl
from store import read_backs, repo
from store.db import READ_ONLY

audio = Blueprint("audio", __name__)

_KEY = re.compile(r"[0-9a-f]{32}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
YEAR = 365 * 24 * 3600
TEXT_HEADER = "X-Prompt-Text"  # what the audio says, for simulators; Twilio ignores it


def play_links(
    session: Session | None, call_sid: str | None, seq: int,
    static: dict[tuple[str, str], str | None] | None = None,
) -> PlayUrl | None:  # fmt: skip
    """How this answer finds audio for a Say; None in say mode.

    Static prompts link to their rendered file. Other texts (read-backs) get a secret
    per-call URL when their words can be joined from rendered pieces; with no session
    (the busy and error answers) only static prompts are played.
    """
    line = hotline()
    catalogue = line.catalogue
    if catalogue is None:
        return None
    fixed = line.static_audio if static is None else static  # the call's menu version's

    def play(say: Say) -> str | None:
        """The URL for one Say, or None to speak it with <Say>."""
        if (say.text, say.lang) in fixed:
            key = fixed[(say.text, say.lang)]
            if key is not None:
                return absolute(url_for("audio.prompt", key=key))
            _warn_once(line, f"prompt audio missing, spoken with <Say>: {say.lang} {say.text!r}")
            return None
        if session is None or call_sid is None:
            return None  # the busy and error answers speak only fixed prompts
        if catalogue.compose(say.text, say.lang) is None:
            _warn_once(line, f"a {say.lang} read-back has a word with no audio piece: <Say>")
            return None
        token = secrets.token_urlsafe(24)
        now = int(line.clock().timestamp())
        read_backs.add_read_back(session, token, call_sid, seq, say.lang, say.text,
                                 now + line.audio_ttl)  # fmt: skip
        return absolute(url_for("audio.read_back", call_sid=call_sid, token=token))

    return play


def tidy_audio(session: Session, call_sid: str, starts: bool, ends: bool, now: int) -> None:
    """Delete read-backs no longer playable: expired ones when a call starts, and an ending
    call's earlier ones (what this last step says is added after, and lives until the end)."""
    if starts:
        repo.drop_expired_audio(session, now)
    if ends:
        repo.drop_audio(session, call_sid, now)


def _forget(line: Hotline, key: str) -> None:
    """A prompt file deleted since start-up: speak that prompt with <Say> from now on."""
    for edition in line.editions.all():  # calls in older menu versions play it too
        for said, known in list(edition.static_audio.items()):
            if known == key:
                edition.static_audio[said] = None
                _warn_once(line, f"prompt audio {key}.wav is gone; spoken with <Say>: {said[0]!r}")


def _warn_once(line: Hotline, message: str) -> None:
    """Log a warning the first time this process meets it."""
    if message not in line.warned:
        line.warned.add(message)
        current_app.logger.warning(message)


@audio.get("/audio/<key>.wav")
def prompt(key: str) -> Response:
    """A rendered static prompt; public and cacheable for long, since its name is its hash."""
    line = hotline()
    catalogue = line.catalogue
    entry = catalogue.entries.get(key) if catalogue and _KEY.fullmatch(key) else None
    if catalogue is None or entry is None:
        abort(404)
    if not catalogue.path(key).is_file():
        _forget(line, key)
        abort(404)
    response = send_file(catalogue.path(key), mimetype="audio/wav", max_age=YEAR,
                         conditional=True, etag=True)  # fmt: skip
    response.cache_control.immutable = True
    response.headers[TEXT_HEADER] = quote(entry.text)
    return response


@audio.get("/audio/calls/<call_sid>/<token>.wav")
def read_back(call_sid: str, token: str) -> Response:
    """A call's read-back joined into one WAV; only for its own call, while it lasts."""
    line = hotline()
    if line.catalogue is None or not (CALL_SID.fullmatch(call_sid) and _TOKEN.fullmatch(token)):
        abort(404)
    session = get_session()
    try:
        # Read only: on SQLite a write lock would queue Twilio's fetch behind PIN checks.
        session.connection(execution_options={READ_ONLY: True})
        row = repo.find_audio(session, call_sid, token, int(line.clock().timestamp()))
        said = (row.text, row.lang) if row is not None else None
    except DBAPIError:
        return Response("database unavailable\n", 503, mimetype="text/plain")
    finally:
        session.rollback()  # read only: end the transaction before the slower join
    parts = line.catalogue.compose(*said) if said is not None else None
    if said is None or parts is None:
        abort(404)
    try:
        body = line.catalogue.join(parts)
    except (OSError, IvrError) as exc:  # a piece deleted or re-rendered since the call began
        current_app.logger.warning("read-back for call %s cannot be joined: %s", call_sid, exc)
        abort(404)
    response = Response(body, 200, mimetype="audio/wav")
    response.headers["Cache-Control"] = "private, no-store"
    if line.audio_text:  # it carries a balance: only for simulators, never by default
        response.headers[TEXT_HEADER] = quote(said[0])
    return response
