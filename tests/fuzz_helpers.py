"""What the fuzz tests share: route lists, Hypothesis strategies and settings, and helpers
that send a request to the app and check that its answer is a 4xx or the route's own 2xx.

Used by test_fuzz.py (single requests) and test_fuzz_walks.py (calls walked step by step).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from flask import Flask
from hypothesis import HealthCheck
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from ivr.sim.twiml_check import TwimlChecker
from ivr.web.context import CALL_SID, MAX_BODY_BYTES
from store.demo import demo_data
from store.import_apply import import_data
from store.importer import PreparedImport
from tests.conftest import AUTH_TOKEN
from tests.twiml_helpers import Twiml, is_twiml, parse_twiml

BASE = "http://localhost"
FORM_TYPE = "application/x-www-form-urlencoded"
TWIML_ROUTES = ("/voice", "/voice/keys", "/voice/silence", "/voice/dialled")
WEBHOOKS = (*TWIML_ROUTES, "/voice/status")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
FINAL = ("completed", "busy", "failed", "no-answer", "canceled")
# Keyed as a caller keys them, the X of an ID as *; each number's PIN, for realistic calls.
PERSONS = demo_data()["persons"]
PIN_OF = {
    **{p["id_number"].replace("X", "*"): p["pin"] for p in PERSONS},
    **{p["card_number"]: p["pin"] for p in PERSONS},
}
NUMBERS = sorted(PIN_OF)
UNKNOWN = ["11010519491231002*", "650100999", "650102196803121090", "12345678901234567"]
AGENT = "+8613912345678"  # so a transfer is a <Dial> whose action is /voice/dialled
# Rate limits count in real time across examples: left on, every later example would only
# be throttled. test_random_forms_under_rate_limits fuzzes them on their own.
NO_LIMITS = {"IVR_RATE_LIMIT_CALLER": "off", "IVR_RATE_LIMIT_ADDRESS": "off"}
# derandomize=True: CI runs the same examples every time, so a red build is reproducible
# from its log and never flaky, and the coverage assertion of the walks test is stable.
# database=None: no .hypothesis folder in the checkout. deadline=None: PostgreSQL round
# trips vary, and so does a shared CI machine.
FUZZ = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

Pairs = list[tuple[str, str]]

# --- strategies ---------------------------------------------------------------------------


def text_without(excluded: str, **sizes: int) -> st.SearchStrategy[str]:
    """Any text that UTF-8 can encode (no lone surrogates), without these characters."""
    return st.text(st.characters(codec="utf-8", exclude_characters=excluded), **sizes)


KEYPAD = st.text("0123456789*#", max_size=24)
GARBAGE = st.one_of(
    st.text(max_size=40),  # any unicode, control characters and NUL included
    st.text(min_size=300, max_size=3000),
    st.sampled_from(["\x00", "*#*#", "#", "", "<Response/>", "</Say><Hangup/>", "1\x002"]),
)
REALISTIC = st.sampled_from([*NUMBERS, *UNKNOWN, *sorted(set(PIN_OF.values())), *"0123456789*#"])
DIGITS = st.one_of(REALISTIC, REALISTIC.map(lambda keys: keys + "#"), KEYPAD, GARBAGE)
VALID_SID = st.from_regex(CALL_SID, fullmatch=True)
# A few CallSids come back again and again, so that random requests land on live calls.
POOL = st.sampled_from([f"CAfuzz{i}" for i in range(4)])
CALL_SIDS = st.one_of(
    POOL, POOL, POOL, VALID_SID, VALID_SID,
    st.text(max_size=80),  # unicode, control characters, NUL; rarely a valid one
    st.text("CA0123456789abcdef", min_size=65, max_size=400),  # too long
    VALID_SID.map(lambda sid: sid + "\x00"),
    VALID_SID.map(lambda sid: sid + "中文"),
)  # fmt: skip
FIELD_NAMES = st.sampled_from(["CallSid", "Digits", "From", "CallStatus", "DialCallStatus"])
STATUSES = st.one_of(st.sampled_from([*FINAL, "ringing", "in-progress", "answered"]), GARBAGE)


@st.composite
def form_pairs(draw: st.DrawFn) -> Pairs:
    """Form fields as posted, in any order, a field sometimes twice, sometimes huge."""
    pairs: Pairs = []
    if draw(st.integers(0, 9)):  # mostly present: a missing CallSid is one 400 of many
        pairs.append(("CallSid", draw(CALL_SIDS)))
    for name, values in (("From", st.text(max_size=40) | GARBAGE), ("Digits", DIGITS),
                         ("CallStatus", STATUSES), ("DialCallStatus", STATUSES)):  # fmt: skip
        if draw(st.booleans()):
            pairs.append((name, draw(values)))
    extra = st.tuples(FIELD_NAMES | st.text(max_size=20), st.text(max_size=60))
    pairs += draw(st.lists(extra, max_size=4))
    pairs = draw(st.permutations(pairs))
    if draw(st.integers(0, 3)) == 0:  # a body at, just over or far over the size limit
        size = draw(st.sampled_from([MAX_BODY_BYTES, MAX_BODY_BYTES + 1]) | st.integers(1, 40_000))
        pairs = padded(pairs, size)
    return pairs


def padded(pairs: Pairs, size: int) -> Pairs:
    """The pairs and a filler field, so that the encoded body is `size` bytes when it can be."""
    room = size - len(urlencode([*pairs, ("Pad", "")]).encode())
    return [*pairs, ("Pad", "a" * max(room, 0))]


def queries(nodes: list[str]) -> st.SearchStrategy[str]:
    """Query strings naming real menu nodes or garbage, with steps real or not."""
    node = st.sampled_from(nodes) | st.text(max_size=20)
    seq = st.integers(-2, 30).map(str) | st.text(max_size=8)
    pairs = st.tuples(
        st.lists(st.tuples(st.just("node"), node), max_size=2),
        st.lists(st.tuples(st.just("seq"), seq), max_size=2),
        st.lists(st.tuples(st.text(max_size=8), st.text(max_size=20)), max_size=2),
    )
    encoded = pairs.map(lambda parts: urlencode([p for part in parts for p in part]))
    raw = text_without("#", max_size=40)  # a # would start the URL's fragment
    return encoded | raw


# --- requests and answers ------------------------------------------------------------------


def first_values(pairs: Pairs) -> dict[str, str]:
    """Each field's first value, as the app reads the form and checks its signature."""
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def send(app: Flask, method: str, url: str, body: bytes = b"", *, signature: str | None = None,
         headers: dict[str, str] | None = None) -> TestResponse:  # fmt: skip
    """Send `body` as a form to the absolute or relative `url`, with that signature if any."""
    parts = urlsplit(urljoin(BASE, url))
    headers = dict(headers or {})
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    response = app.test_client().open(
        parts.path, method=method, base_url=f"{parts.scheme}://{parts.netloc}",
        query_string=parts.query, data=body, content_type=FORM_TYPE, headers=headers,
    )  # fmt: skip
    response.get_data()  # buffered, so that closing releases an audio file at once
    response.close()
    return response


def signed(app: Flask, url: str, pairs: Pairs, token: str = AUTH_TOKEN) -> TestResponse:
    """POST the form to `url`, signed as Twilio signs it (over the first value of a field)."""
    full = urljoin(BASE, url)
    signature = RequestValidator(token).compute_signature(full, first_values(pairs))
    return send(app, "POST", full, urlencode(pairs).encode(), signature=signature)


def expected_status(path: str, pairs: Pairs) -> int:
    """What a webhook must answer a well-signed (or unchecked) form: 413, 400, 204 or 200."""
    if len(urlencode(pairs).encode()) > MAX_BODY_BYTES:
        return 413
    if not CALL_SID.fullmatch(first_values(pairs).get("CallSid", "")):
        return 400
    return 204 if path == "/voice/status" else 200


def check(response: TestResponse, checker: TwimlChecker, method: str = "POST") -> Twiml | None:
    """Fail on a 5xx, a 3xx, a traceback, a TwiML 4xx or a 2xx of no known kind; parse TwiML."""
    status, body = response.status_code, response.get_data()
    said = f"{method} -> {status} {response.content_type}\n{body[:2000]!r}"
    assert status < 500 and not 300 <= status < 400, said
    assert b"Traceback" not in body and b'File "' not in body, said
    if status >= 400:
        assert not is_twiml(body), said
        return None
    if method in ("HEAD", "OPTIONS") or status == 204:
        assert body == b"", said
        return None
    if response.mimetype == "text/xml":
        return parse_twiml(body, checker)
    known = ("audio/wav", b"RIFF"), ("text/plain", b"ok\n"), ("text/plain", b"# HE")  # /metrics
    assert (response.mimetype, body[:4]) in known, said
    return None


def node_names(app: Flask) -> list[str]:
    """The loaded menu's node names."""
    return sorted(app.extensions["ivr"].menu.nodes)


# --- apps ---------------------------------------------------------------------------------
# conftest.py wraps these in the fixtures `build` and `agent_play_app`.


def demo_apps(
    make_app: Callable[..., Flask], demo_prepared: PreparedImport
) -> Callable[..., Flask]:
    """Apps with the demo accounts, signatures on and rate limits off unless overridden."""

    def with_demo(**overrides: object) -> Flask:
        app = make_app(**{**NO_LIMITS, **overrides})
        with app.extensions["ivr"].sessions() as session:
            import_data(session, demo_prepared)
        return app

    return with_demo


def agent_play(build: Callable[..., Flask], audio_dir: Path) -> Flask:
    """Play mode (so /audio serves files and read-backs) with an agent number to <Dial>."""
    # The read-backs' text header is on as for simulators: it must not break anything either.
    return build(IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir), IVR_AUDIO_TEXT="1",
                 IVR_AGENT_NUMBER=AGENT)  # fmt: skip
