"""What a webhook request says: its signature, its form fields, and the next steps' URLs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Response, abort, g, request, url_for
from twilio.request_validator import compare

from ivr.web.context import CALL_SID, hotline
from ivr.web.links import public_path, public_url

MAX_DIGITS = 64  # longer than any real entry; garbage past this is not looked at
MAX_SPEECH = 256  # characters of a SpeechResult looked at: a menu phrase is far shorter


@dataclass(frozen=True)
class CallForm:
    """The fields of a Twilio voice request that the hotline uses."""

    call_sid: str
    from_number: str
    digits: str = field(repr=False)  # may be a PIN
    speech: str | None = field(default=None, repr=False)  # SpeechResult; may be a spoken PIN
    confidence: float = 0.0  # Twilio's Confidence, 0 to 1


def signed() -> bool:
    """True when the request carries Twilio's valid signature, or signatures are off."""
    if "signed" not in g:
        g.signed = _check_signature()
    return g.signed


def _check_signature() -> bool:
    """Check X-Twilio-Signature against the URL Twilio called."""
    validator = hotline().validator
    if validator is None:
        return True
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    url, params = public_url(), request.form.to_dict()
    # The URL as Twilio requested it is what it signs: one HMAC. Only a miss goes on to
    # twilio's validate, which tries the URL with and without its port (two more).
    if compare(validator.compute_signature(url, params), signature):
        return True
    return validator.validate(url, params, signature)


def parse_form() -> CallForm:
    """Parse and bound the form fields; a missing or malformed CallSid is a 400."""
    call_sid = request.form.get("CallSid", "")
    if not CALL_SID.fullmatch(call_sid):
        abort(Response("CallSid is missing or malformed\n", 400, mimetype="text/plain"))
    g.call_sid = call_sid
    speech = field_of("SpeechResult", MAX_SPEECH) if "SpeechResult" in request.form else None
    return CallForm(call_sid, field_of("From", 32), field_of("Digits", MAX_DIGITS), speech,
                    confidence(request.form.get("Confidence", "")))  # fmt: skip


def confidence(value: str) -> float:
    """Twilio's Confidence as a number from 0 to 1; anything else counts as no confidence."""
    try:
        number = float(value.strip()[:32])
    except ValueError:
        return 0.0
    return number if math.isfinite(number) and 0 <= number <= 1 else 0.0


def field_of(name: str, limit: int) -> str:
    """A form field cut to `limit`, control characters as "?" (PostgreSQL refuses NUL)."""
    return "".join(ch if ch.isprintable() else "?" for ch in request.form.get(name, "")[:limit])


_PATHS: dict[tuple[str, str], str] = {}  # (script root, endpoint) -> its path


def path_of(endpoint: str) -> str:
    """url_for(endpoint) without arguments, built once per script root (not per element)."""
    key = (request.script_root, endpoint)
    path = _PATHS.get(key)
    if path is None:
        path = _PATHS[key] = url_for(endpoint)
    return path


def _link(endpoint: str, node: str, seq: int) -> str:
    """The next step's URL: absolute under IVR_PUBLIC_URL, else relative to this request."""
    # As url_for(endpoint, node=node, seq=seq) encodes it (werkzeug's safe characters).
    query = urlencode((("node", node), ("seq", str(seq))), safe="!$'()*,/:;?@")
    # IVR_PUBLIC_URL may carry a path prefix that a proxy strips before the app sees it.
    return public_path(f"{path_of(endpoint)}?{query}")


def keys_url(node: str, seq: int) -> str:
    """Where Twilio posts the keys of a Gather at `node`."""
    return _link("voice.keys", node, seq)


def silence_url(node: str, seq: int) -> str:
    """Where Twilio goes when the Gather at `node` times out unanswered."""
    return _link("voice.silence", node, seq)
