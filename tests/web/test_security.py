"""Security of the webhook: signatures, garbage input, replayed URLs, outages and privacy."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from twilio.request_validator import RequestValidator

from ivr.sim.caller import Caller, FlaskTransport
from ivr.sim.twiml_check import TwimlChecker
from ivr.web.observe import JsonFormatter
from store.models import Call, CallEvent, Person
from tests.conftest import AUTH_TOKEN
from tests.twiml_helpers import is_twiml, parse_twiml
from tests.web.lines import (
    BASE,
    BROKEN_URLS,
    BUSY,
    CARD,
    ID_BODY,
    ID_STAR,
    ID_X,
    MAIN,
    PIN,
    UNKNOWN_ID,
    WELCOME,
    MakeLine,
    call_row,
    node_of,
    post,
    prompt,
    prompts,
    read,
    sign,
    twilio_form,
)

# --- 1. Signatures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/voice", "/voice/keys?node=main&seq=1", "/voice/silence?node=main&seq=1"]
)
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("bm90IGEgc2lnbmF0dXJl", id="garbage"),
        pytest.param(sign(f"{BASE}/voice", twilio_form("CAunsigned1")), id="signed-for-voice"),
        pytest.param(
            RequestValidator("another-token").compute_signature(
                f"{BASE}/voice", twilio_form("CAunsigned1")
            ),
            id="other-token",
        ),
    ],
)
def test_bad_signature_is_403_without_twiml(app: Flask, path: str, signature: str | None) -> None:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    form = twilio_form("CAunsigned1", Digits="2")  # Digits makes even signed-for-voice wrong
    response = app.test_client().post(path, data=form, headers=headers)
    assert response.status_code == 403
    assert not response.content_type.startswith(("text/xml", "application/xml"))
    assert not is_twiml(response.data)
    assert call_row(app, "CAunsigned1") is None  # never reached the call


@dataclass(frozen=True)
class SigCase:
    """A signed request: where it is sent, with which headers and settings, signed for what."""

    signed_for: str
    headers: dict[str, str] = field(default_factory=dict)
    public_url: str = ""
    path: str = "/voice"


NGROK = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "abc.ngrok.app"}


@pytest.mark.parametrize(
    ("case", "status"),
    [
        pytest.param(SigCase(f"{BASE}/voice"), 200, id="right"),
        pytest.param(SigCase(f"{BASE}/voice/keys"), 403, id="other-path"),
        pytest.param(SigCase("http://evil.example/voice"), 403, id="other-host"),
        pytest.param(SigCase("https://localhost/voice"), 403, id="other-scheme"),
        pytest.param(SigCase(f"{BASE}/voice?x=1"), 403, id="other-query"),
        pytest.param(SigCase("https://abc.ngrok.app/voice", NGROK), 200, id="proxy"),
        pytest.param(SigCase("https://abc.ngrok.app/voice"), 403, id="proxy-without-headers"),
        pytest.param(SigCase(f"{BASE}/voice", NGROK), 403, id="proxy-signed-for-local"),
        pytest.param(
            SigCase("https://abc.ngrok.app/voice", {"X-Forwarded-Host": "abc.ngrok.app"}),
            403,
            id="proxy-host-only",
        ),
        pytest.param(
            SigCase(
                "https://abc.ngrok.app/voice",
                {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "abc.ngrok.app, lb"},
            ),
            200,
            id="proxy-chain-first-hop",
        ),
        pytest.param(
            SigCase("https://ivr.example.com/voice", public_url="https://ivr.example.com"),
            200,
            id="public-url",
        ),
        pytest.param(
            SigCase("https://ivr.example.com/voice", public_url="https://ivr.example.com/"),
            200,
            id="public-url-trailing-slash",
        ),
        pytest.param(
            SigCase("https://ivr.example.com/voice", NGROK, "https://ivr.example.com"),
            200,
            id="public-url-with-forwarded-headers",
        ),
        pytest.param(
            SigCase("https://abc.ngrok.app/voice", NGROK, "https://ivr.example.com"),
            403,
            id="public-url-ignores-forwarded-headers",
        ),
        pytest.param(
            SigCase(f"{BASE}/voice", public_url="https://ivr.example.com"),
            403,
            id="public-url-signed-for-local",
        ),
        pytest.param(
            SigCase(
                "https://ivr.example.com/voice/silence?node=main&seq=9",
                public_url="https://ivr.example.com",
                path="/voice/silence?node=main&seq=9",
            ),
            200,
            id="public-url-with-query",
        ),
    ],
)
def test_signature_url(
    make_app: Callable[..., Flask], twiml_checker: TwimlChecker, case: SigCase, status: int
) -> None:
    app = make_app(IVR_PUBLIC_URL=case.public_url)
    form = twilio_form("CAsigned0001")
    response = post(app, case.path, form, signed_url=case.signed_for, headers=case.headers)
    assert response.status_code == status
    if status == 200:
        doc = read(response, twiml_checker)
        assert doc.says == prompts(app, *WELCOME)
        assert node_of(doc.gather_action) == "main"
    else:
        assert not is_twiml(response.data)
        assert call_row(app, "CAsigned0001") is None


def _reordered(url: str) -> str:
    """The same URL with its query parameters in another order."""
    parts = urlsplit(url)
    return parts._replace(query="&".join(reversed(parts.query.split("&")))).geturl()


@pytest.mark.parametrize(
    ("signed_for", "status"),
    [
        pytest.param(lambda url: url, 200, id="with-query"),
        pytest.param(lambda url: url.split("?")[0], 403, id="query-dropped"),
        pytest.param(_reordered, 403, id="query-reordered"),
        pytest.param(lambda url: url.replace("seq=1", "seq=2"), 403, id="other-seq"),
        pytest.param(lambda url: url.replace("node=main", "node=medical"), 403, id="other-node"),
    ],
)
def test_signature_covers_the_query_string(
    app: Flask,
    make_line: MakeLine,
    twiml_checker: TwimlChecker,
    signed_for: Callable[[str], str],
    status: int,
) -> None:
    line = make_line()
    line.dial()
    url = urljoin(BASE, line.action or "")
    assert urlsplit(url).query  # node and seq travel in the query string
    form = twilio_form(line.call_sid, Digits="2")
    response = post(app, url, form, signed_url=signed_for(url))
    assert response.status_code == status
    if status == 200:
        doc = read(response, twiml_checker)
        assert doc.says == [prompt(app, "ask_id")]
        assert node_of(doc.gather_action) == "ask_id"
    else:
        assert not is_twiml(response.data)
        assert call_row(app, line.call_sid).seq == 1  # the refused request changed nothing


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda form: {**form, "Digits": "1"}, id="digits-changed"),
        pytest.param(lambda form: {**form, "Digits": "2#"}, id="digits-appended"),
        pytest.param(lambda form: {**form, "CallSid": "CAother0001"}, id="callsid-changed"),
        pytest.param(lambda form: {**form, "From": "+8613900139000"}, id="from-changed"),
        pytest.param(lambda form: {**form, "Extra": "x"}, id="field-added"),
        pytest.param(lambda form: {k: v for k, v in form.items() if k != "To"}, id="field-removed"),
    ],
)
def test_tampered_form_is_403_and_changes_nothing(
    app: Flask, make_line: MakeLine, tamper: Callable[[dict[str, str]], dict[str, str]]
) -> None:
    line = make_line()
    line.dial()
    url = urljoin(BASE, line.action or "")
    signed = twilio_form(line.call_sid, Digits="2")
    response = post(app, url, tamper(signed), signed_form=signed)
    assert response.status_code == 403
    assert not is_twiml(response.data)
    assert call_row(app, "CAother0001") is None
    doc = line.press("2")  # the genuine request still works: the call did not move
    assert doc.says == [prompt(app, "ask_id")]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"X-Twilio-Signature": "anything"}, id="any-header"),
    ],
)
def test_without_a_token_unsigned_requests_are_served(
    make_app: Callable[..., Flask], twiml_checker: TwimlChecker, headers: dict[str, str]
) -> None:
    app = make_app(IVR_AUTH_TOKEN="")
    response = post(app, "/voice", twilio_form("CAnotoken01"), token=None, headers=headers)
    doc = read(response, twiml_checker)
    assert doc.says == prompts(app, *WELCOME)


# --- 2. Garbage never gives a 500 --------------------------------------------------------

# Each garbage entry, with the error the ID prompt gives for it (X and x count as keyable).
GARBAGE = [
    pytest.param("abc", "id_format", id="letters"),
    pytest.param("<Response/>", "id_format", id="markup"),
    pytest.param("</Say><Hangup/>", "id_format", id="markup-breakout"),
    pytest.param("'; DROP TABLE persons;--", "id_format", id="sql"),
    pytest.param("1" * 10_000, "id_length", id="10000-digits"),
    pytest.param("x" * 10_000, "id_length", id="10000-x"),
    pytest.param("a" * 10_000, "id_format", id="10000-letters"),
    pytest.param("中文", "id_format", id="chinese"),
    pytest.param("😀📞", "id_format", id="emoji"),
    # NUL may be rejected as it is (format) or dropped first (length): either re-prompts.
    pytest.param("\x00", "id_format|id_length", id="nul"),
    pytest.param("1\x002\x003", "id_format|id_length", id="nul-inside"),
    pytest.param("", "id_length", id="empty"),
    pytest.param("#", "id_format", id="hash"),
]
# Per node: the error for garbage (None: the ID error above), the entry that works, where next.
AFTER_GARBAGE = {
    "main": ("invalid_key", "2", "ask_id"),
    "ask_id": (None, ID_STAR, "ask_pin"),
    "ask_pin": ("pin_format", PIN, "medical"),
}
PROMPT_OF = {
    "main": MAIN,
    "ask_id": ("ask_id",),
    "ask_pin": ("ask_pin",),
    "medical": ("medical_menu",),
}


@pytest.mark.parametrize("node", ["main", "ask_id", "ask_pin"])
@pytest.mark.parametrize(("digits", "id_error"), GARBAGE)
def test_garbage_digits_reprompt_and_the_call_goes_on(
    app: Flask, make_line: MakeLine, node: str, digits: str, id_error: str
) -> None:
    line = make_line()
    line.to(node)
    error, good, after = AFTER_GARBAGE[node]
    doc = line.press(digits)
    assert doc.verbs == ["Say", "Gather", "Redirect"]
    said_error, *said_prompts = doc.says
    assert said_error in {prompt(app, key) for key in (error or id_error).split("|")}
    assert said_prompts == prompts(app, *PROMPT_OF[node])
    assert node_of(doc.gather_action) == node
    assert node_of(doc.redirect) == node
    doc = line.press(good)
    assert node_of(doc.gather_action) == after
    expected = prompts(app, *PROMPT_OF[after])
    assert doc.says[-len(expected) :] == expected


@pytest.mark.parametrize("path", ["/voice", "/voice/keys?node=main&seq=1", "/voice/silence"])
@pytest.mark.parametrize(
    "call_sid",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("CA 0123", id="space"),
        pytest.param("CA" + "0" * 198, id="200-chars"),
        pytest.param("CA\x00123", id="nul"),
        pytest.param("CA'; DROP TABLE calls;--", id="sql"),
        pytest.param("CA中文", id="chinese"),
        pytest.param("../../etc/passwd", id="path"),
    ],
)
def test_missing_or_malformed_callsid_is_400(app: Flask, path: str, call_sid: str | None) -> None:
    response = post(app, path, twilio_form(call_sid, Digits="1"))
    assert response.status_code == 400
    assert not is_twiml(response.data)


@pytest.mark.parametrize(
    ("dial_first", "path", "fields", "said"),
    [
        pytest.param(False, "/voice", {}, [*WELCOME], id="new-call"),
        pytest.param(True, "/voice", {}, [*WELCOME], id="voice-again"),  # its welcome again
        pytest.param(True, "keys", {}, ["invalid_key", *MAIN], id="keys-without-digits"),
        pytest.param(True, "keys", {"Digits": "2"}, ["ask_id"], id="keys-with-digits"),
        pytest.param(True, "silence", {}, ["no_input", *MAIN], id="silence"),
    ],
)
def test_only_callsid_is_needed(
    app: Flask,
    make_line: MakeLine,
    twiml_checker: TwimlChecker,
    dial_first: bool,
    path: str,
    fields: dict[str, str],
    said: list[str],
) -> None:
    line = make_line()
    if dial_first:
        line.dial()
    url = {"keys": line.action, "silence": line.silence_url}.get(path, path) or ""
    response = post(app, url, {"CallSid": line.call_sid, **fields})
    doc = read(response, twiml_checker)
    assert doc.says == prompts(app, *said)


@pytest.mark.parametrize("name", ["From", "To", "CallStatus", "AccountSid"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("<Response/>", id="markup"),
        pytest.param("+86" + "1" * 9_000, id="9000-chars"),
        pytest.param("中文😀", id="non-ascii"),
        pytest.param("+86\x00138", id="nul"),
    ],
)
def test_garbage_in_other_fields_still_gets_the_welcome(
    app: Flask, twiml_checker: TwimlChecker, name: str, value: str
) -> None:
    form = twilio_form("CAfields0001", **{name: value})
    doc = read(post(app, "/voice", form), twiml_checker)
    assert doc.says == prompts(app, *WELCOME)
    assert node_of(doc.gather_action) == "main"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/voice", 405),
        ("GET", "/voice/keys?node=main&seq=1", 405),
        ("GET", "/voice/silence", 405),
        ("PUT", "/voice", 405),
        ("DELETE", "/voice/keys", 405),
        ("POST", "/voice/nope", 404),
        ("POST", "/voice/", 404),
        ("POST", "/", 404),
        ("GET", "/admin", 404),
    ],
)
@pytest.mark.parametrize("signed", [False, True])
def test_wrong_method_or_path(
    app: Flask, method: str, path: str, status: int, signed: bool
) -> None:
    form = twilio_form("CAmethod001")
    headers = {"X-Twilio-Signature": sign(urljoin(BASE, path), form)} if signed else {}
    response = app.test_client().open(path, method=method, data=form, headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize("token", [AUTH_TOKEN, ""])
@pytest.mark.parametrize("path", ["/voice", "/voice/keys?node=main&seq=1"])
def test_body_over_16_kib_is_413(make_app: Callable[..., Flask], token: str, path: str) -> None:
    app = make_app(IVR_AUTH_TOKEN=token)
    form = twilio_form("CAtoobig001", Digits="1" * 17_000)
    response = post(app, path, form, token=token)
    assert response.status_code == 413
    assert not is_twiml(response.data)


@pytest.mark.parametrize("token", [AUTH_TOKEN, ""])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/json", '{"CallSid": "CAjson0001", "Digits": "1"}', id="json"),
        pytest.param("text/plain", "CallSid=CAjson0001", id="text"),
        pytest.param("application/xml", "<Response><Hangup/></Response>", id="xml"),
        pytest.param("application/x-www-form-urlencoded", "%%%&&==", id="broken-form"),
        pytest.param("multipart/form-data; boundary=zz", "--zz\r\nbroken", id="broken-multipart"),
    ],
)
def test_wrong_content_type_is_4xx_or_twiml(
    make_app: Callable[..., Flask],
    twiml_checker: TwimlChecker,
    token: str,
    content_type: str,
    body: str,
) -> None:
    app = make_app(IVR_AUTH_TOKEN=token)
    headers = {"Content-Type": content_type}
    if token:
        headers["X-Twilio-Signature"] = sign(f"{BASE}/voice", {})
    response = app.test_client().post("/voice", data=body.encode(), headers=headers)
    if response.status_code == 200:
        parse_twiml(response.data, twiml_checker)
        assert response.content_type.startswith("text/xml")
    else:
        assert 400 <= response.status_code < 500, response.status_code


# --- 3. Replayed URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("between", "now_at"),
    [
        pytest.param("000000", "ask_id", id="after-a-wrong-pin"),
        pytest.param("12", "ask_pin", id="after-a-malformed-pin"),
    ],
)
def test_stale_pin_url_verifies_nobody(
    app: Flask, make_line: MakeLine, twiml_checker: TwimlChecker, between: str, now_at: str
) -> None:
    line = make_line()
    line.to("ask_pin")
    pin_url = line.action or ""
    line.press(between)
    assert node_of(line.action) == now_at
    replay = post(app, pin_url, twilio_form(line.call_sid, Digits=PIN))
    doc = read(replay, twiml_checker)
    assert doc.says == prompts(app, *PROMPT_OF[now_at])  # answered from where the call is
    assert node_of(doc.gather_action) == now_at
    assert not any("元" in said for said in doc.says)
    row = call_row(app, line.call_sid)
    assert row is not None and not row.verified and row.node == now_at


@pytest.mark.parametrize(
    ("captured", "digits"),
    [
        pytest.param("medical", "1", id="medical-balance-key"),
        pytest.param("medical", "2", id="medical-family-key"),
        pytest.param("medical-silence", "", id="medical-silence"),
        pytest.param("ask_pin", PIN, id="pin-url-with-the-pin"),
    ],
)
def test_post_verification_url_with_a_new_callsid_starts_over(
    app: Flask, make_line: MakeLine, twiml_checker: TwimlChecker, captured: str, digits: str
) -> None:
    line = make_line()
    line.to("ask_pin")
    pin_url = line.action or ""
    line.press(PIN)
    urls = {"medical": line.action, "medical-silence": line.silence_url, "ask_pin": pin_url}
    assert "元" in "".join(line.press("1").says)  # this call really can hear the balance
    stranger = "CAstranger0001"
    response = post(app, urls[captured] or "", twilio_form(stranger, Digits=digits))
    doc = read(response, twiml_checker)
    assert doc.says == prompts(app, *WELCOME)
    assert not any("元" in said for said in doc.says)
    row = call_row(app, stranger)
    assert row is not None and not row.verified and row.person_id is None


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/voice/silence", {}),
        ("/voice/silence?node=main&seq=1", {}),
        ("/voice/silence?node=medical&seq=7", {}),
        ("/voice/keys?node=medical&seq=7", {"Digits": "1"}),
        ("/voice/keys?node=ask_pin&seq=3", {"Digits": PIN}),
    ],
)
def test_unknown_callsid_hears_the_welcome(
    app: Flask, twiml_checker: TwimlChecker, path: str, fields: dict[str, str]
) -> None:
    doc = read(post(app, path, twilio_form("CAnobody0001", **fields)), twiml_checker)
    assert doc.says == prompts(app, *WELCOME)
    assert node_of(doc.gather_action) == "main"


# --- 4. Database outage ------------------------------------------------------------------


@pytest.mark.parametrize("broken_url", BROKEN_URLS)
@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/voice", {}),
        ("/voice/keys?node=main&seq=1", {"Digits": "2"}),
        ("/voice/keys?node=ask_pin&seq=3", {"Digits": PIN}),
        ("/voice/silence?node=main&seq=1", {}),
    ],
)
def test_outage_says_busy_and_hangs_up(
    make_app: Callable[..., Flask],
    twiml_checker: TwimlChecker,
    broken_url: str,
    path: str,
    fields: dict[str, str],
) -> None:
    app = make_app(IVR_DATABASE_URL=broken_url)
    doc = read(post(app, path, twilio_form("CAoutage0001", **fields)), twiml_checker)
    assert doc.says == [BUSY]
    assert doc.verbs == ["Say", "Hangup"]


@pytest.mark.parametrize("broken_url", BROKEN_URLS)
def test_healthz_reports_the_database(
    make_app: Callable[..., Flask], app: Flask, broken_url: str
) -> None:
    assert app.test_client().get("/healthz").status_code == 200
    assert make_app(IVR_DATABASE_URL=broken_url).test_client().get("/healthz").status_code == 503


@pytest.mark.parametrize("broken_url", BROKEN_URLS)
@pytest.mark.parametrize(("node", "digits"), [("main", "2"), ("ask_id", ID_STAR), ("ask_pin", PIN)])
def test_outage_in_the_middle_of_a_call(
    app: Flask,
    make_app: Callable[..., Flask],
    make_line: MakeLine,
    caplog: pytest.LogCaptureFixture,
    broken_url: str,
    node: str,
    digits: str,
) -> None:
    caplog.set_level(logging.INFO)
    line = make_line()
    line.to(node)
    action = line.action
    app.extensions["ivr"].engine.dispose()
    down = make_line(line.call_sid, target=make_app(IVR_DATABASE_URL=broken_url))
    down.action = action
    doc = down.press(digits)
    assert doc.says == [BUSY]
    assert doc.verbs == ["Say", "Hangup"]
    assert ID_BODY not in caplog.text and PIN not in caplog.text
    # Nothing was half-written: once the database is back, the same keys work.
    doc = line.press(digits)
    assert node_of(doc.gather_action) == {"main": "ask_id", "ask_id": "ask_pin"}.get(
        node, "medical"
    )


# --- 5. Privacy --------------------------------------------------------------------------

OK_SID, FAILED_SID = "CAprivacyok0001", "CAprivacyfail001"


@pytest.fixture
def private_calls(
    make_caller: Callable[..., Caller], app: Flask, caplog: pytest.LogCaptureFixture
) -> list[str]:
    """A verified call (balance, family) and one that fails three times; their log lines."""
    caplog.set_level(logging.INFO)
    ok = make_caller(call_sid=OK_SID)
    ok.dial()
    ok.press("2")
    ok.press(ID_STAR + "#")
    ok.press(PIN + "#")
    assert "一千二百三十四元五角六分" in ok.press("1")
    assert prompt(app, "family_payer", count="一") in ok.press("2")
    ok.hangup()
    failed = make_caller(call_sid=FAILED_SID)
    failed.dial()
    failed.press("2")
    for number, pin in [(ID_STAR, "000000"), (UNKNOWN_ID, PIN), (CARD, "000000")]:
        failed.press(number + "#")
        failed.press(pin + "#")
    assert failed.ended and prompt(app, "auth_failed_final") in failed.heard
    # As the JSON log shows them: every field, not just the message.
    return [JsonFormatter().format(record) for record in caplog.records]


SECRETS = [ID_BODY, UNKNOWN_ID[:17], PIN]


def test_call_events_keep_inputs_masked(app: Flask, private_calls: list[str]) -> None:
    with app.extensions["ivr"].sessions() as session:
        events = session.scalars(
            select(CallEvent)
            .where(CallEvent.call_sid.in_([OK_SID, FAILED_SID]))
            .order_by(CallEvent.call_sid, CallEvent.seq)
        ).all()
    for event in events:
        for value in (event.input_masked, event.node, event.outcome):
            assert not any(secret in value for secret in SECRETS), value

    def masked(call_sid: str, node: str) -> list[str]:
        return [e.input_masked for e in events if e.call_sid == call_sid and e.node == node]

    assert masked(OK_SID, "ask_id") == ["**************109*"]
    assert masked(OK_SID, "ask_pin") == ["******"]
    assert masked(FAILED_SID, "ask_id") == ["**************109*", "**************002*", "*****0017"]
    assert masked(FAILED_SID, "ask_pin") == ["******"] * 3


def test_log_never_holds_an_id_or_pin(private_calls: list[str]) -> None:
    lines = [json.loads(line) for line in private_calls]
    steps = [line for line in lines if line.get("call_sid") == OK_SID]
    # One line per webhook request (the dial and five keyings), each with node and outcome.
    assert len(steps) == 6 and all("latency_ms" in line for line in steps)
    assert "ask_pin" in {line.get("node") for line in steps}
    assert any("verified" in line.get("outcome", "") for line in steps)
    log = "\n".join(private_calls)
    for secret in [ID_STAR, ID_X, "**************109*", *SECRETS]:
        assert secret not in log


def test_calls_table_holds_no_id_or_pin(app: Flask, private_calls: list[str]) -> None:
    with app.extensions["ivr"].sessions() as session:
        rows = session.scalars(select(Call).where(Call.call_sid.in_([OK_SID, FAILED_SID]))).all()
        known = session.scalar(select(Person.id).where(Person.id_number == ID_X))
    assert {row.call_sid for row in rows} == {OK_SID, FAILED_SID}
    for row in rows:
        values = [str(getattr(row, column.key)) for column in Call.__table__.columns]
        for secret in SECRETS:
            assert not any(secret in value for value in values), (secret, values)
    verified = {row.call_sid: (row.verified, row.person_id) for row in rows}
    assert verified == {OK_SID: (True, known), FAILED_SID: (False, None)}


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM no_such_table WHERE id_number = :secret",
        "INSERT INTO no_such_table (pin) VALUES (:secret)",
        "SELECT no_such_column FROM persons WHERE id_number = :secret",
    ],
)
@pytest.mark.parametrize("secret", [ID_X, PIN])
def test_database_errors_hide_parameters(app: Flask, statement: str, secret: str) -> None:
    engine = app.extensions["ivr"].engine
    assert engine.hide_parameters
    with pytest.raises(DBAPIError) as caught, engine.connect() as connection:
        connection.execute(text(statement), {"secret": secret})
    message = str(caught.value)
    assert "SQL parameters hidden" in message
    assert secret not in message


# --- 6. Content-Type ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([], id="dial"),
        pytest.param(["2"], id="menu-key"),
        pytest.param(["2", "abc"], id="garbage"),
        pytest.param(["2", ID_STAR, PIN, "1"], id="balance"),
        pytest.param(["2", ID_STAR, PIN, "2"], id="family"),
        pytest.param(["0"], id="agent"),
        pytest.param([None], id="silence"),
        pytest.param([None, None, None], id="silence-to-goodbye"),
    ],
)
def test_every_webhook_answer_is_text_xml(
    make_line: MakeLine, twiml_checker: TwimlChecker, steps: list[str | None]
) -> None:
    line = make_line()
    line.dial()
    for digits in steps:
        if digits is None:
            line.post(line.silence_url or "")
        else:
            line.press(digits)
    assert len(line.answers) == len(steps) + 1
    for answer in line.answers:
        assert answer.content_type.startswith("text/xml")
        parse_twiml(answer.data, twiml_checker)


class StrippingProxy:
    """A reverse proxy in front of the app that serves it under /ivr and strips the prefix."""

    def __init__(self, inner: FlaskTransport, public: str) -> None:
        self.inner, self.public = inner, public

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]):
        """Forward a public URL to the app's own path."""
        assert url.startswith(self.public + "/"), f"Twilio was sent outside the proxy: {url}"
        return self.inner.post(BASE + url.removeprefix(self.public), form, headers)

    def get(self, url: str, headers: dict[str, str]):
        """Forward a GET the same way."""
        return self.inner.get(BASE + url.removeprefix(self.public), headers)


def test_a_whole_call_works_behind_a_proxy_path_prefix(app: Flask, twiml_checker) -> None:
    public = "https://ivr.example.com/ivr"
    app.config["IVR_PUBLIC_URL"] = public  # as if set in the environment before start
    proxy = StrippingProxy(FlaskTransport(app), public)
    caller = Caller(
        proxy, voice_url=f"{public}/voice", auth_token=AUTH_TOKEN, checker=twiml_checker
    )
    caller.dial()
    assert caller.waiting is not None
    assert caller.waiting.action.startswith(f"{public}/voice/keys?")  # absolute, prefixed
    caller.press("2")
    caller.press(ID_STAR + "#")
    caller.press(PIN + "#")
    assert "一千二百三十四元五角六分" in caller.press("1")


def test_a_pin_keyed_at_the_id_prompt_is_never_kept(
    make_caller: Callable[..., Caller], app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caller = make_caller(call_sid="CAmistyped000001")
    caller.dial()
    caller.press("2")
    caller.press(PIN + "#")  # the PIN, keyed where the ID was asked for
    with app.extensions["ivr"].sessions() as session:
        kept = session.scalars(
            select(CallEvent.input_masked).where(
                CallEvent.call_sid == "CAmistyped000001", CallEvent.node == "ask_id"
            )
        ).all()
    assert kept == ["******"]
    assert PIN[-4:] not in caplog.text


def test_reprs_never_show_keyed_digits() -> None:
    from datetime import date

    from ivr.core.events import Env, Keys
    from ivr.web.request import CallForm

    env = Env(today=date(2026, 11, 25), agents_open=True, agent_hours_text={"zh-CN": ""})
    assert PIN not in repr(Keys(PIN, env))
    assert ID_BODY not in repr(CallForm("CA1", "+86", ID_X))


def test_a_database_held_by_another_writer_gives_the_busy_message(
    app: Flask, twiml_checker: TwimlChecker
) -> None:
    """A lock that is never released is waited out in bounded time, then the caller hears
    the busy message (not Twilio's own application error after its 15 s limit)."""
    engine = app.extensions["ivr"].engine
    with engine.connect() as holder:
        holder.begin()  # SQLite: BEGIN IMMEDIATE takes the write lock
        if engine.dialect.name == "postgresql":
            holder.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
        response = post(app, "/voice", twilio_form("CAheldlock000001"))
        holder.rollback()
    doc = read(response, twiml_checker)
    assert doc.says == [BUSY] and doc.verbs == ["Say", "Hangup"]
