"""A simulated caller that drives any voice webhook exactly as Twilio would, TwiML and all."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import etree
from twilio.request_validator import RequestValidator

from ivr.core.identity import mask_keyed
from ivr.sim.exchange import PlayFailed, check, play, send
from ivr.sim.fallback import fallback_form
from ivr.sim.speech import DEFAULT_CONFIDENCE, mask_said, require_input, speech_params
from ivr.sim.transport import (
    FlaskTransport,
    HttpTransport,
    Reply,
    SimulatorError,
    Transport,
    WebhookError,
    WsgiTransport,
)
from ivr.sim.turns import EndState, GatherSpec, Turn, TurnKind
from ivr.sim.twiml_check import TwimlChecker, TwimlInvalid

__all__ = [
    "Caller", "EndState", "FlaskTransport", "GatherSpec", "HttpTransport", "Reply",
    "SimulatorError", "Transport", "Turn", "TurnKind", "WebhookError", "WsgiTransport",
]  # fmt: skip

# Twilio gives up on a call whose webhooks keep redirecting; we fail loudly instead.
MAX_DOCUMENTS_PER_ACTION = 20
KEYS = re.compile(r"[0-9*#]+")


@dataclass(frozen=True)
class _Hop:
    """A request the call is about to make."""

    url: str
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)


class Caller:
    """One simulated call: dial, press keys, stay silent or hang up, and record what is heard."""

    def __init__(
        self,
        transport: Transport,
        *,
        voice_url: str = "http://localhost/voice",
        auth_token: str | None = None,
        from_: str = "+8613800138000",
        to: str = "+8612333",
        call_sid: str | None = None,
        checker: TwimlChecker | None = None,
        fetch_audio: bool = True,
        status_callback: str | None = None,
        fallback_url: str | None = None,
    ) -> None:
        """Prepare a call; nothing is requested until `dial()`.

        With `fetch_audio`, every <Play> is fetched as Twilio would (200 and audio, or it
        fails) and heard as the text its X-Prompt-Text header gives. As Twilio would, the
        call's end is posted to `status_callback`, and a failed request goes on to `fallback_url`.
        """
        self.transport = transport
        self.voice_url = voice_url
        self.validator = RequestValidator(auth_token) if auth_token else None
        # Every answer is checked as Twilio would check it; a checker is only passed to
        # share its memory of valid documents between callers.
        self.from_, self.to = from_, to
        self.checker = checker if checker is not None else TwimlChecker()
        self.fetch_audio, self.status_callback = fetch_audio, status_callback
        self.fallback_url = fallback_url
        self.call_sid = call_sid or "CA" + secrets.token_hex(16)
        self.account_sid = "AC" + secrets.token_hex(16)
        self.heard: list[str] = []
        self.transcript: list[Turn] = []
        self.played: list[str] = []
        self.dialled_in = self.ended = False
        self.end_state: EndState | None = None
        self.implicit_hangup = False
        self.dialed: str | None = None
        self.queue: str | None = None
        self.waiting: GatherSpec | None = None
        self.requests = 0
        self.last_twiml = self.text_since_last_input = ""
        self._rest: list[etree._Element] = []  # verbs after the Gather we wait at
        self._rest_url = ""
        self._typeahead = ""

    def heard_text(self) -> str:
        """Everything heard so far, joined with no separator."""
        return "".join(self.heard)

    def dial(self) -> str:
        """Place the call; return what is heard until it waits at a Gather or ends."""
        if self.dialled_in:
            raise SimulatorError("this caller has already dialled")
        self.dialled_in = True
        return self._act(lambda: self._drive(_Hop(self.voice_url)))

    def press(self, keys: str) -> str:
        """Type keys into the waiting Gather (extra keys run ahead into the next ones)."""
        if not KEYS.fullmatch(keys):
            raise ValueError(f"keys must be 0-9, * or #, got {keys!r}")
        require_input(self.waiting, speech=False)  # before the call changes at all
        spec = self._require_waiting("press keys")
        self.transcript.append(Turn(TurnKind.PRESSED, mask_keyed(keys)))
        self._typeahead = keys
        return self._act(lambda: self._drive(self._finish_gather(spec)))

    def say(self, text: str, confidence: float = DEFAULT_CONFIDENCE) -> str:
        """Speak into the waiting Gather, which must listen for speech (ivr.sim.speech)."""
        params = speech_params(text, confidence)
        require_input(self.waiting, speech=True)  # before the call changes at all
        spec = self._require_waiting("say anything")
        self.transcript.append(Turn(TurnKind.SAID, mask_said(text.strip()), confidence=confidence))
        return self._act(lambda: self._drive(_Hop(spec.action, spec.method, params)))

    def silence(self) -> str:
        """Let the waiting Gather time out with no digits."""
        spec = self._require_waiting("stay silent")
        self.transcript.append(Turn(TurnKind.SILENCE))
        if spec.action_on_empty_result:
            hop = _Hop(spec.action, spec.method, {"Digits": "", "FinishedOnKey": ""})
            return self._act(lambda: self._drive(hop))
        # Twilio skips the action and carries on with the verbs after the Gather.
        rest, url = self._rest, self._rest_url
        return self._act(lambda: self._drive(self._run(rest, url)))

    def hangup(self) -> None:
        """The caller hangs up; hanging up an ended call changes nothing."""
        if not self.dialled_in:
            raise SimulatorError("cannot hang up a call that was never dialled")
        if not self.ended:
            self._end(EndState.CALLER_HANGUP)

    def _require_waiting(self, what: str) -> GatherSpec:
        """Return the Gather being waited at, or explain why the caller cannot act."""
        if self.waiting is None:
            state = f"the call has ended ({self.end_state})" if self.ended else "nobody is waiting"
            if not self.dialled_in:
                state = "the call was never dialled"
            raise SimulatorError(f"cannot {what}: {state}")
        spec, self.waiting = self.waiting, None
        return spec

    def _act(self, step: Callable[[], None]) -> str:
        """Run one caller action and return the text heard during it."""
        mark = len(self.heard)
        try:
            step()
        finally:
            self.text_since_last_input = "".join(self.heard[mark:])
            left, self._typeahead = self._typeahead, ""
        if left:
            # The keys may be the rest of a PIN or an ID: never in an error message as keyed.
            raise SimulatorError(f"keys {mask_keyed(left)!r} left over: no Gather took them")
        return self.text_since_last_input

    def _finish_gather(self, spec: GatherSpec) -> _Hop:
        """Feed type-ahead keys to a Gather and build Twilio's request to its action."""
        require_input(spec, speech=False)  # keys typed ahead into a speech-only Gather
        digits, finished_on, self._typeahead = spec.collect(self._typeahead)
        return _Hop(spec.action, spec.method, {"Digits": digits, "FinishedOnKey": finished_on})

    def _drive(self, hop: _Hop | None) -> None:
        """Fetch and run documents until the call waits at a Gather or ends."""
        documents = 0
        while hop is not None:
            documents += 1
            if documents > MAX_DOCUMENTS_PER_ACTION:
                raise WebhookError(f"more than {MAX_DOCUMENTS_PER_ACTION} documents in a row")
            hop = self._run(list(self._fetch(hop)), hop.url)

    def _run(self, verbs: list[etree._Element], doc_url: str) -> _Hop | None:
        """Execute a document; when one of its <Play>s cannot be fetched, Twilio's fallback
        request's answer takes the place of the rest, as after a failed webhook."""
        try:
            return self._execute(verbs, doc_url)
        except PlayFailed as exc:
            if self.fallback_url is None:
                raise
            form = self._form({"ErrorCode": exc.code, "ErrorUrl": exc.url})
        answer = self._send(self.fallback_url, "POST", form)
        return self._execute(list(check(*answer, self.checker)), self.fallback_url)

    def _execute(self, verbs: list[etree._Element], doc_url: str) -> _Hop | None:
        """Run verbs in order; return the next request, or None if the call waits or ends."""
        for index, verb in enumerate(verbs):
            if verb.tag in ("Say", "Play", "Pause"):
                self._speak(verb, doc_url)
            elif verb.tag == "Gather":
                spec = GatherSpec.parse(verb, doc_url)
                for child in verb:
                    self._speak(child, doc_url)
                if self._typeahead:
                    return self._finish_gather(spec)
                self.waiting, self._rest, self._rest_url = spec, verbs[index + 1 :], doc_url
                return None
            elif verb.tag == "Redirect":
                target = (verb.text or "").strip()
                if not target:
                    raise WebhookError("<Redirect> without a URL")
                return _Hop(urljoin(doc_url, target), verb.get("method", "POST").upper())
            else:
                self._terminate(verb)
                return None
        # An exhausted document makes Twilio hang up.
        self.implicit_hangup = True
        self._end(EndState.HANGUP)
        return None

    def _speak(self, verb: etree._Element, doc_url: str) -> None:
        """Record what Say and Play make the caller hear; Pause is silent."""
        if verb.tag == "Say":
            self._hear("".join(verb.itertext()))
        elif verb.tag == "Play":
            url = urljoin(doc_url, "".join(verb.itertext()).strip())
            self.played.append(url)
            heard = play(self.transport, url) if self.fetch_audio else f"[play:{url}]"
            self._hear(heard, audio=url)
        elif verb.tag != "Pause":
            raise WebhookError(f"<{verb.tag}> cannot be spoken inside <Gather>")

    def _hear(self, text: str, audio: str | None = None) -> None:
        """Append one utterance (with the URL of its audio, for a <Play>)."""
        self.heard.append(text)
        self.transcript.append(Turn(TurnKind.HEARD, text, audio=audio))

    def _terminate(self, verb: etree._Element) -> None:
        """Handle the verbs that end the call for the caller."""
        text = "".join(verb.itertext()).strip()
        if verb.tag == "Hangup":
            self._end(EndState.HANGUP)
        elif verb.tag == "Dial":
            self.dialed = text
            self._end(EndState.TRANSFER)
        elif verb.tag == "Enqueue":
            self.queue = text
            self._end(EndState.ENQUEUE)
        elif verb.tag == "Reject":
            self._end(EndState.REJECTED)
        else:
            raise SimulatorError(f"the simulator does not support <{verb.tag}>")

    def _end(self, state: EndState) -> None:
        """Mark the call over, and tell the status callback as Twilio would."""
        self.ended, self.end_state, self.waiting, self._rest = True, state, None, []
        if self.status_callback:
            form = self._form({"CallStatus": "completed"})
            with contextlib.suppress(SimulatorError):  # Twilio ignores what it answers
                self.transport.post(
                    self.status_callback, form, self._signed(self.status_callback, form)
                )

    def _signed(self, url: str, form: dict[str, str]) -> dict[str, str]:
        """The headers of a request to `url` carrying `form`: Twilio's signature, if any."""
        if self.validator is None:
            return {}
        return {"X-Twilio-Signature": self.validator.compute_signature(url, form)}

    def _form(self, params: dict[str, str]) -> dict[str, str]:
        """Twilio's standard call parameters plus any Gather results."""
        status = "in-progress" if self.requests else "ringing"
        return {"CallSid": self.call_sid, "AccountSid": self.account_sid, "From": self.from_,
                "To": self.to, "Caller": self.from_, "Called": self.to, "CallStatus": status,
                "Direction": "inbound", "ApiVersion": "2010-04-01", **params}  # fmt: skip

    def _fetch(self, hop: _Hop) -> etree._Element:
        """Make one webhook request and return the checked `<Response>` root; when it fails,
        ask the fallback URL as Twilio would, and go on with that answer."""
        form = self._form(hop.params)
        answer, turn = self._send(hop.url, hop.method, form)
        try:
            return check(answer, turn, self.checker)
        except (WebhookError, TwimlInvalid):
            if self.fallback_url is None:
                raise
        reply = answer if isinstance(answer, Reply) else None
        again = self._send(self.fallback_url, "POST", fallback_form(form, reply, hop.url))
        return check(*again, self.checker)

    def _send(
        self, url: str, method: str, form: dict[str, str]
    ) -> tuple[Reply | WebhookError, Turn]:
        """One request of the call, counted and kept in its transcript."""
        answer, turn = send(self.transport, url, method, form, self._signed)
        self.requests += 1
        self.last_twiml = turn.twiml if turn.twiml is not None else self.last_twiml
        self.transcript.append(turn)
        return answer, turn
