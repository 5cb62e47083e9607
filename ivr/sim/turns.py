"""What the simulated caller records and waits at: end states, transcript turns, Gathers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree

from ivr.core.events import Trace
from ivr.core.trace import TRACE_HEADER, decode


class EndState(StrEnum):
    """How a call ended."""

    HANGUP = "hangup"
    TRANSFER = "transfer"
    ENQUEUE = "enqueue"
    CALLER_HANGUP = "caller_hangup"
    REJECTED = "rejected"


class TurnKind(StrEnum):
    """What a transcript entry records."""

    HEARD = "heard"
    PRESSED = "pressed"
    SAID = "said"  # spoken into a speech Gather: Twilio posted the text it recognised
    SILENCE = "silence"
    REQUEST = "request"


@dataclass(frozen=True)
class GatherSpec:
    """The `<Gather>` the caller is waiting at, with Twilio's defaults filled in."""

    num_digits: int | None
    finish_on_key: str
    timeout: int
    action: str
    method: str
    action_on_empty_result: bool
    # The `input` attribute as written ("" when absent: Twilio then takes keys only), and
    # the phrases a speech Gather's `hints` expect, for a page to suggest.
    input: str = ""
    hints: str = ""

    @classmethod
    def parse(cls, verb: etree._Element, doc_url: str) -> GatherSpec:
        """Read a Gather's attributes; its action defaults to the document's own URL."""
        num_digits = verb.get("numDigits")
        return cls(
            num_digits=int(num_digits) if num_digits else None,
            finish_on_key=verb.get("finishOnKey", "#"),
            timeout=int(verb.get("timeout", "5")),
            action=urljoin(doc_url, verb.get("action", "")),
            method=verb.get("method", "POST").upper(),
            action_on_empty_result=verb.get("actionOnEmptyResult", "false").lower() == "true",
            input=" ".join(verb.get("input", "").split()),
            hints=verb.get("hints", "").strip(),
        )

    @property
    def takes_keys(self) -> bool:
        """True when the Gather takes keys (its `input` holds dtmf, or it has none)."""
        return not self.input or "dtmf" in self.input.lower().split()

    @property
    def takes_speech(self) -> bool:
        """True when the Gather listens for speech (its `input` holds speech)."""
        return "speech" in self.input.lower().split()

    def collect(self, keys: str) -> tuple[str, str, str]:
        """Consume keys until the Gather completes; return (digits, finished_on_key, rest)."""
        digits = ""
        for index, key in enumerate(keys):
            if self.finish_on_key and key == self.finish_on_key:
                return digits, key, keys[index + 1 :]
            digits += key
            if self.num_digits is not None and len(digits) >= self.num_digits:
                return digits, "", keys[index + 1 :]
        # Out of keys: the Gather times out and Twilio still posts the partial digits.
        return digits, "", ""


@dataclass
class Turn:
    """One transcript entry; request turns also carry the HTTP exchange."""

    kind: TurnKind
    text: str = ""
    url: str | None = None
    method: str | None = None
    form: dict[str, str] | None = None
    status: int | None = None
    elapsed_ms: float | None = None
    twiml: str | None = None
    # A heard <Play>'s URL. A read-back's is a secret: reports (QA scripts) never print it;
    # the softphone API returns it only to the caller's own page (the developer's own call).
    audio: str | None = None
    # A said turn's confidence, 0 to 1, as the recogniser would have reported it.
    confidence: float | None = None
    # Where the hotline's engine took the call in answering (its X-IVR-Trace header); None
    # when the answer had no such header, as from a hotline that does not send one.
    trace: tuple[Trace, ...] | None = None
    # Why Twilio would refuse this answer (an HTTP error, not XML, invalid TwiML), one
    # problem per line; None for an answer it accepts.
    refused: str | None = None


def trace_of(headers: Mapping[str, str]) -> tuple[Trace, ...] | None:
    """The engine's trace an answer's headers tell (ivr.core.trace); None without one."""
    wanted = TRACE_HEADER.lower()
    value = next((v for name, v in headers.items() if name.lower() == wanted), None)
    return decode(value) if value is not None else None


def with_query(url: str, base: str, form: dict[str, str]) -> str:
    """A GET URL as a transcript keeps it: the Gather's own query plus the masked form."""
    parts = urlsplit(base)
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + list(form.items()))
    return urlunsplit(urlsplit(url)._replace(query=query))
