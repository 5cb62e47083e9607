"""One webhook request as Twilio makes it: signed, timed, kept as a transcript turn, and its
answer checked as Twilio would check it; and the fetch of a <Play>'s audio."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import unquote

from lxml import etree

from ivr.core.identity import mask_keyed
from ivr.sim.fallback import play_error_code
from ivr.sim.replies import check_reply
from ivr.sim.speech import mask_said
from ivr.sim.transport import Reply, Transport, WebhookError
from ivr.sim.turns import Turn, TurnKind, trace_of, with_query
from ivr.sim.twiml_check import TwimlChecker, TwimlInvalid

Signer = Callable[[str, dict[str, str]], dict[str, str]]  # (URL, form) -> signature headers
PROMPT_TEXT_HEADER = "X-Prompt-Text"  # the hotline's audio says what it says here
# A hotline's per-call audio URL is a bearer secret: transcripts keep only its shape.
_PRIVATE_AUDIO = re.compile(r"/audio/calls/[^?#]+")


class PlayFailed(WebhookError):
    """A <Play> whose audio Twilio could not fetch; Twilio's error code and the URL."""

    def __init__(self, message: str, url: str, reply: Reply | None) -> None:
        """Keep the URL, the answer's status and the code a fallback request reports."""
        super().__init__(message, status=reply.status if reply is not None else None)
        self.url, self.code = url, play_error_code(reply)


def private(url: str) -> str:
    """A URL as transcripts keep it: a per-call audio URL's secret part left out."""
    return _PRIVATE_AUDIO.sub("/audio/calls/…", url)


def _kept(name: str, value: str) -> str:
    """One form field as a transcript keeps it: keys and spoken digits masked, no secret URL."""
    if name == "Digits":
        return mask_keyed(value)
    if name == "SpeechResult":
        return mask_said(value)
    return private(value) if name == "ErrorUrl" else value


def send(transport: Transport, url: str, method: str, form: dict[str, str], sign: Signer,
         ) -> tuple[Reply | WebhookError, Turn]:  # fmt: skip
    """Make one request; its reply, or the error that stands for none, and its turn."""
    get = method == "GET"
    target = with_query(url, url, form) if get else url  # a GET carries the form in its query
    # Transcripts feed reports: the keys are kept only as masked as the event log's.
    kept = {k: _kept(k, v) for k, v in form.items()}
    shown = with_query(target, url, kept) if get else url  # a GET URL carries Digits
    turn = Turn(TurnKind.REQUEST, url=shown, method=method, form=kept)
    headers = sign(target, {} if get else form)  # a GET's URL alone is signed
    started = time.perf_counter()
    try:
        reply = transport.get(target, headers) if get else transport.post(target, form, headers)
    except WebhookError as exc:  # no answer: a refused connection, a timeout, a cut
        turn.elapsed_ms, turn.refused = (time.perf_counter() - started) * 1000, str(exc)
        return exc, turn
    turn.elapsed_ms = (time.perf_counter() - started) * 1000
    turn.status, turn.trace = reply.status, trace_of(reply.headers)
    turn.twiml = reply.body.decode("utf-8", errors="replace")
    return reply, turn


def check(answer: Reply | WebhookError, turn: Turn, checker: TwimlChecker) -> etree._Element:
    """The answer's `<Response>` root if Twilio would run it; else the turn says why not."""
    if isinstance(answer, WebhookError):
        raise answer
    try:
        return check_reply(turn.url or "", answer, checker)
    except TwimlInvalid as exc:  # the transcript says why Twilio would refuse it
        turn.refused = "\n".join(exc.problems)
        raise
    except WebhookError as exc:
        turn.refused = str(exc)
        raise


def play(transport: Transport, url: str) -> str:
    """Fetch a <Play> URL as Twilio would; what it says, from its text header."""
    try:
        reply = transport.get(url, {})
    except WebhookError as exc:  # no answer
        raise PlayFailed(str(exc), url, None) from exc
    kind = reply.content_type.split(";")[0].strip().lower()
    if reply.status != 200 or not kind.startswith("audio/") or not reply.body:
        raise PlayFailed(
            f"<Play> {url} answered HTTP {reply.status} {kind or 'no Content-Type'}"
            f" with {len(reply.body)} bytes; Twilio needs 200 and audio",
            url,
            reply,
        )
    headers = {name.lower(): value for name, value in reply.headers.items()}
    text = headers.get(PROMPT_TEXT_HEADER.lower())
    return unquote(text) if text else f"[play:{private(url)}]"
