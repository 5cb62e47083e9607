"""Property-based fuzzing of every route: random forms, keys, queries, paths and methods.

Whatever arrives, the answer is a 4xx without TwiML or a 2xx of the route's own kind (TwiML
that Twilio's schema accepts, 204, audio, ok): never a 500, never a traceback in the body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
from conftest import AUTH_TOKEN, Clock
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from twiml_helpers import Twiml, is_twiml, parse_twiml
from werkzeug.test import TestResponse

from ivr.app import CALL_SID, MAX_BODY_BYTES
from ivr.twiml_schema import TwimlSchema
from store.demo import demo_data
from store.import_apply import import_data
from store.importer import PreparedImport

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
# from its log and never flaky, and the coverage assertion of the walk below is stable.
# database=None: no .hypothesis folder in the checkout. deadline=None: a PIN check runs a
# deliberate ~100 ms scrypt, and PostgreSQL round trips vary.
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


def check(response: TestResponse, schema: TwimlSchema, method: str = "POST") -> Twiml | None:
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
        return parse_twiml(body, schema)
    known = ("audio/wav", b"RIFF"), ("text/plain", b"ok\n"), ("text/plain", b"# HE")  # /metrics
    assert (response.mimetype, body[:4]) in known, said
    return None


def node_names(app: Flask) -> list[str]:
    """The loaded menu's node names."""
    return sorted(app.extensions["ivr"].menu.nodes)


@pytest.fixture
def build(make_app: Callable[..., Flask], demo_prepared: PreparedImport) -> Callable[..., Flask]:
    """Apps with the demo accounts, signatures on and rate limits off unless overridden."""

    def with_demo(**overrides: object) -> Flask:
        app = make_app(**{**NO_LIMITS, **overrides})
        with app.extensions["ivr"].sessions() as session:
            import_data(session, demo_prepared)
        return app

    return with_demo


# --- forms, queries, signatures ------------------------------------------------------------


def test_random_forms_without_signature_checking(
    build: Callable[..., Flask], twiml_schema: TwimlSchema
) -> None:
    """Any form at any webhook, token unset: 413, 400, or the route's 200 TwiML / 204."""
    app = build(IVR_AUTH_TOKEN="")
    query = queries(node_names(app))

    @settings(max_examples=120, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), query=query, pairs=form_pairs())
    def run(path: str, query: str, pairs: Pairs) -> None:
        response = send(app, "POST", f"{path}?{query}", urlencode(pairs).encode())
        assert response.status_code == expected_status(path, pairs), response.get_data()[:500]
        check(response, twiml_schema)

    run()


def test_random_raw_bodies(build: Callable[..., Flask], twiml_schema: TwimlSchema) -> None:
    """Bytes that are no proper form (bad escapes, bad UTF-8) are a 4xx or TwiML too."""
    app = build(IVR_AUTH_TOKEN="")
    sid = VALID_SID.map(lambda s: f"CallSid={s}&".encode())
    tail = st.sampled_from([b"", b"%", b"%zz", b"&=&"])
    body = st.tuples(st.just(b"") | sid, st.binary(max_size=300), tail)

    @settings(max_examples=60, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), body=body.map(b"".join))
    def run(path: str, body: bytes) -> None:
        response = send(app, "POST", path, body)
        assert response.status_code in (200, 204, 400), response.get_data()[:500]
        check(response, twiml_schema)

    run()


def test_random_signed_forms(build: Callable[..., Flask], twiml_schema: TwimlSchema) -> None:
    """IVR_AUTH_TOKEN set: a well-signed random request gets what an unchecked one would."""
    app = build()
    query = queries(node_names(app)).map(lambda q: urlencode(parse_qs(q), doseq=True))

    @settings(max_examples=80, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), query=query, pairs=form_pairs())
    def run(path: str, query: str, pairs: Pairs) -> None:
        response = signed(app, f"{path}?{query}" if query else path, pairs)
        assert response.status_code == expected_status(path, pairs), response.get_data()[:500]
        check(response, twiml_schema)

    run()


@st.composite
def forgeries(draw: st.DrawFn, url: str, pairs: Pairs) -> str | None:
    """A signature that does not fit this request: none, garbage, another URL, form or key."""
    form = first_values(pairs)
    other = {**form, draw(FIELD_NAMES): draw(st.text(max_size=10))}
    return draw(st.one_of(
        st.none(), text_without("\r\n", max_size=40),
        st.binary(max_size=20).map(bytes.hex),
        st.just(RequestValidator("another-token").compute_signature(url, form)),
        st.just(RequestValidator(AUTH_TOKEN).compute_signature(url + "&x=1", form)),
        st.just(RequestValidator(AUTH_TOKEN).compute_signature(url, other)),
    ).filter(lambda sig: sig != RequestValidator(AUTH_TOKEN).compute_signature(url, form))
    )  # fmt: skip


def test_random_forged_signatures_are_403(
    build: Callable[..., Flask], twiml_schema: TwimlSchema
) -> None:
    """IVR_AUTH_TOKEN set: a request whose signature does not fit is 403 (or 413: too big)."""
    app = build()

    @settings(max_examples=60, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), pairs=form_pairs(), data=st.data())
    def run(path: str, pairs: Pairs, data: st.DataObject) -> None:
        url = f"{BASE}{path}?node=main&seq=1"
        signature = data.draw(forgeries(url, pairs), label="signature")
        response = send(app, "POST", url, urlencode(pairs).encode(), signature=signature)
        # An oversized body may be refused before or after the signature is looked at.
        allowed = (403, 413) if expected_status(path, pairs) == 413 else (403,)
        assert response.status_code in allowed, response.get_data()[:500]
        check(response, twiml_schema)

    run()


def test_random_forms_under_rate_limits(
    build: Callable[..., Flask], twiml_schema: TwimlSchema
) -> None:
    """Throttled: a signed call hears the busy message, anything else is a 429, never a 5xx."""
    app = build(IVR_RATE_LIMIT_CALLER="3/minute", IVR_RATE_LIMIT_ADDRESS="20/minute")
    busy = app.extensions["ivr"].menu.text("busy")

    @settings(max_examples=60, **FUZZ)
    @given(path=st.sampled_from(WEBHOOKS), pairs=form_pairs(), forged=st.booleans())
    def run(path: str, pairs: Pairs, forged: bool) -> None:
        form, body = first_values(pairs), urlencode(pairs).encode()
        signature = RequestValidator("another-token" if forged else AUTH_TOKEN).compute_signature(
            BASE + path, form
        )
        response = send(app, "POST", path, body, signature=signature)
        doc = check(response, twiml_schema)
        expected = expected_status(path, pairs)
        caller = not forged and expected in (200, 204)  # signed, with a well-formed CallSid
        # Status callbacks end calls and their audio URLs: the limits never refuse them.
        limited = path != "/voice/status"
        if doc is not None and doc.says == [busy]:
            assert limited and caller and doc.verbs == ["Say", "Hangup"], (path, pairs)
        elif response.status_code == 429:
            assert limited and not caller and expected != 413, (path, pairs)
        elif forged:
            assert response.status_code in ((403, 413) if expected == 413 else (403,))
        else:
            assert response.status_code == expected, response.get_data()[:500]

    run()


# --- every other route, path and method ----------------------------------------------------


@pytest.fixture
def agent_play_app(build: Callable[..., Flask], audio_dir: Path) -> Flask:
    """Play mode (so /audio serves files and read-backs) with an agent number to <Dial>."""
    # The read-backs' text header is on as for simulators: it must not break anything either.
    return build(IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir), IVR_AUDIO_TEXT="1",
                 IVR_AGENT_NUMBER=AGENT)  # fmt: skip


def paths(app: Flask) -> st.SearchStrategy[str]:
    """Real routes, audio names real and not, read-back names, and made-up paths."""
    keys = sorted(app.extensions["ivr"].catalogue.entries)
    segment = text_without("?#/%", min_size=1, max_size=12)
    token = st.from_regex(r"[A-Za-z0-9_-]{32}", fullmatch=True) | segment
    return st.one_of(
        st.sampled_from([*WEBHOOKS, "/healthz", "/metrics", "/", "/voice/", "/audio/calls"]),
        st.sampled_from(keys).map(lambda key: f"/audio/{key}.wav"),
        (st.from_regex(r"[0-9a-f]{32}", fullmatch=True) | segment).map("/audio/{}.wav".format),
        st.tuples(POOL | segment, token).map(lambda p: f"/audio/calls/{p[0]}/{p[1]}.wav"),
        st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    )  # fmt: skip


def test_random_paths_and_methods(agent_play_app: Flask, twiml_schema: TwimlSchema) -> None:
    """Any method at any path, signed or not: 4xx, or the route's own kind of 2xx."""
    app = agent_play_app
    keys = app.extensions["ivr"].catalogue.entries

    @settings(max_examples=120, **FUZZ)
    @given(method=st.sampled_from(METHODS), path=paths(app), pairs=form_pairs(),
           sign=st.booleans())  # fmt: skip
    def run(method: str, path: str, pairs: Pairs, sign: bool) -> None:
        body = urlencode(pairs).encode()
        form = first_values(pairs)
        signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE + path, form)
        response = send(app, method, path, body, signature=signature if sign else None)
        check(response, twiml_schema, method)
        name = path.removeprefix("/audio/").removesuffix(".wav")
        if method in ("GET", "HEAD") and (path == "/healthz" or name in keys):
            assert response.status_code == 200, response.get_data()[:500]
        elif method in ("GET", "HEAD") and path.startswith("/audio/"):
            assert response.status_code == 404, response.get_data()[:500]

    run()


# The test client refuses line breaks in a header; anything else may arrive.
HEADER_TEXT = text_without("\r\n", max_size=30)
PROTOS = st.sampled_from(["https", "http", "https, http"]) | HEADER_TEXT
HOSTS = st.sampled_from(["abc.ngrok.app", "ivr.example.com:8443", "a.ngrok.app, lb"]) | HEADER_TEXT


def test_random_forwarded_headers(
    build: Callable[..., Flask], audio_dir: Path, twiml_schema: TwimlSchema
) -> None:
    """Whatever X-Forwarded-Proto and -Host say, a call gets well-formed TwiML (play mode)."""
    # Play URLs are absolute, built from these headers. Without a token (a developer behind
    # a tunnel) anyone may send them; with one, only Twilio, whose values are sane.
    app = build(IVR_AUTH_TOKEN="", IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir))

    @settings(max_examples=60, **FUZZ)
    @given(path=st.sampled_from(TWIML_ROUTES), sid=POOL, proto=st.none() | PROTOS,
           host=st.none() | HOSTS)  # fmt: skip
    def run(path: str, sid: str, proto: str | None, host: str | None) -> None:
        sent = {"X-Forwarded-Proto": proto, "X-Forwarded-Host": host}
        headers = {name: value for name, value in sent.items() if value is not None}
        body = urlencode({"CallSid": sid, "Digits": "2"}).encode()
        response = send(app, "POST", path, body, headers=headers)
        assert response.status_code == 200, response.get_data()[:500]
        check(response, twiml_schema)

    run()


# --- one call, step by step ----------------------------------------------------------------

# Agent hours are 08:30-11:30 and 13:00-17:00 on weekdays: inside (mostly), after, a Saturday.
TIMES = st.sampled_from(["2026-11-25T10:00", "2026-11-25T14:00", "2026-11-25T20:00",
                         "2026-11-28T10:00"])  # fmt: skip


def node_of(url: str | None) -> str:
    """The node a Gather action or Redirect URL names ("" for none)."""
    return parse_qs(urlsplit(url or "").query).get("node", [""])[0]


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True once in `n` draws, on average."""
    return st.integers(0, n - 1).map(lambda i: i == 0)


@dataclass(frozen=True)
class Step:
    """One move of a walk; `follow` and `wander` pick from it what fits where the call is."""

    # Drawn whole up front: what Hypothesis draws must not depend on the app's answers.
    off_path: bool  # a request of its own instead of the one Twilio would make next
    silent: bool  # at a Gather: let it time out
    fits: bool  # key what fits the node (else `digits`)
    number: str  # an ID or card number, for the ID prompt
    right_pin: bool  # the PIN of the number keyed (else `pin`)
    pin: str
    key: str  # for a menu
    digits: str  # anything
    path: str  # the rest is for a request off the path
    query: str
    fields: Pairs


def steps(nodes: list[str]) -> st.SearchStrategy[Step]:
    """Steps of a walk: mostly where the last answer pointed, with what fits there."""
    query = queries(nodes).map(lambda q: urlencode(parse_qs(q), doseq=True))  # signed as sent
    extra = st.sampled_from(["Digits", "CallStatus", "DialCallStatus"])
    return st.builds(
        Step, off_path=one_in(5), silent=one_in(5), fits=one_in(5).map(lambda b: not b),
        number=st.sampled_from([*NUMBERS, *UNKNOWN]), right_pin=one_in(4).map(lambda b: not b),
        pin=st.from_regex(r"[0-9]{6}", fullmatch=True),
        key=st.sampled_from(["2", "1", "2", "1", "0", "9", "*", "#", "3"]), digits=DIGITS,
        path=st.sampled_from(WEBHOOKS), query=query,
        fields=st.lists(st.tuples(extra, STATUSES | DIGITS), max_size=3),
    )  # fmt: skip


@dataclass
class Walk:
    """One signed call on the play-mode app; remembers where the last answer said to go."""

    app: Flask
    schema: TwimlSchema
    call_sid: str
    seen: set[str]  # the nodes reached and menu keys taken, over the whole run
    action: str = ""  # the Gather's action
    redirect: str = ""
    dialled: str = ""  # the Dial's action
    pin: str | None = None  # the PIN of the number keyed at the ID prompt
    readbacks: list[str] = field(default_factory=list)

    def post(self, url: str, pairs: Pairs) -> None:
        """Post for this call, check the answer and every audio it plays, and move on."""
        form = [("CallSid", self.call_sid), ("From", "+8613800138000"), *pairs]
        response = signed(self.app, url, form)
        expected = expected_status(urlsplit(url).path, form)  # 413 for a huge random field
        assert response.status_code == expected, response.get_data()[:500]
        doc = check(response, self.schema)
        if expected == 204 and first_values(pairs).get("CallStatus") in FINAL:
            self.call_over()
        if doc is None:
            return
        self.listen(doc)
        dial = doc.root.find("Dial")
        self.action, self.redirect = doc.gather_action or "", doc.redirect or ""
        self.dialled = "" if dial is None else dial.get("action", "")
        self.seen.update(filter(None, (node_of(self.action), "dial" if self.dialled else "")))

    def keyed(self, digits: str) -> tuple[str, Pairs]:
        """Key `digits` into the waiting Gather, as Twilio posts them (the # taken off)."""
        node = node_of(self.action)
        if node == "ask_id":
            self.pin = PIN_OF.get(digits)
        elif node in ("main", "medical"):
            self.seen.add(f"{node} {digits}")  # medical 1: the balance, 2: 家庭共济
        return self.action, [("Digits", digits), ("FinishedOnKey", "#")]

    def listen(self, doc: Twiml) -> None:
        """Fetch every <Play> as Twilio does; another call's CallSid must not get a read-back."""
        for play in doc.root.iter("Play"):
            url = (play.text or "").strip()
            response = send(self.app, "GET", url)
            assert (response.status_code, response.mimetype) == (200, "audio/wav"), url
            if "/audio/calls/" in url:
                self.seen.add("read-back")
                self.readbacks.append(url)
                stolen = url.replace(f"/calls/{self.call_sid}/", "/calls/CAsomeoneelse/")
                assert send(self.app, "GET", stolen).status_code == 404

    def call_over(self) -> None:
        """Twilio said the call is over: its read-back audio is gone at once."""
        for url in self.readbacks:
            assert send(self.app, "GET", url).status_code == 404, url
        self.readbacks.clear()


def keys_for(node: str, step: Step, pin: str | None) -> str:
    """What the caller keys at `node`: mostly what fits there (their own PIN), or anything."""
    if not step.fits:
        return step.digits
    if node == "ask_id":
        return step.number
    if node == "ask_pin":
        return pin if pin and step.right_pin else step.pin
    return step.key


def follow(walk: Walk, step: Step) -> tuple[str, Pairs]:
    """The request Twilio would make next: keys or silence at the Gather, or the Dial's end."""
    if walk.action and not step.silent:
        return walk.keyed(keys_for(node_of(walk.action), step, walk.pin))
    if walk.redirect:
        return walk.redirect, []
    if walk.dialled:
        return walk.dialled, [("DialCallStatus", step.digits if step.fits else step.key)]
    return "/voice", []  # the call ended: the caller dials again on the same CallSid


@st.composite
def knowing_the_way(draw: st.DrawFn) -> list[str]:
    """The keys of a caller who knows the way to a service (random moves follow)."""
    number = draw(st.sampled_from(NUMBERS))
    keys = ["9"] if draw(one_in(3)) else []  # in English
    keys += [draw(st.sampled_from(["2", "1"])), number, PIN_OF[number]]
    if keys[-3] == "2":
        keys.append(draw(st.sampled_from(["1", "2", "0", "*", "#"])))
    return keys


def wander(step: Step) -> tuple[str, Pairs]:
    """A request off the path: any webhook, any node and step, any keys or status."""
    return f"{step.path}?{step.query}" if step.query else step.path, step.fields


def test_random_walks_on_one_call(
    agent_play_app: Flask, twiml_schema: TwimlSchema, clock: Clock
) -> None:
    """Steps on one CallSid, mostly where the last answer pointed, reach deep nodes safely."""
    seen: set[str] = set()
    calls = count()

    @settings(max_examples=60, **FUZZ)
    @given(time=TIMES, prefix=st.just([]) | knowing_the_way(),
           walk_steps=st.lists(steps(node_names(agent_play_app)), max_size=16))  # fmt: skip
    def run(time: str, prefix: list[str], walk_steps: list[Step]) -> None:
        clock.set(time)
        # A new call each time, so that a replayed example does not find its call moved on.
        walk = Walk(agent_play_app, twiml_schema, f"CAwalk{next(calls):05d}", seen)
        walk.post("/voice", [])
        for digits in prefix:
            if walk.action:
                walk.post(*walk.keyed(digits))
        for step in walk_steps:
            walk.post(*(wander(step) if step.off_path else follow(walk, step)))

    run()
    # The walks must reach what needs a verified caller; else the fuzz tested only the surface.
    deep = {"ask_pin", "medical", "main 9", "medical 1", "medical 2", "read-back", "dial"}
    assert deep <= seen, sorted(seen)
