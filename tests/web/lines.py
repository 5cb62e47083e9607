"""Raw signed webhook requests for the web tests: Twilio's form, signatures, and Line, one call
driven post by post along each Gather's action URL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from ivr.sim.twiml_check import TwimlChecker
from store.models import Call
from tests.conftest import AUTH_TOKEN
from tests.twiml_helpers import Twiml, parse_twiml

BASE = "http://localhost"
ID_STAR = "65010219680312109*"  # 王建国, X keyed as *
ID_X = "65010219680312109X"
ID_BODY = "65010219680312109"  # in any form of his full ID
PIN = "135790"
CARD = "650100017"
UNKNOWN_ID = "11010519491231002*"  # valid (X keyed as *), not on file
BUSY = "系统繁忙，请稍后再拨。"
MAIN = ("main_menu", "language_offer")  # the main menu, then the English offer
WELCOME = ("welcome", "speech_hint", *MAIN)  # a new call: the welcome, that speech is heard, MAIN
BROKEN_URLS = [
    pytest.param("sqlite:////nonexistent-dir/x.db", id="sqlite-missing-dir"),
    pytest.param("postgresql+psycopg://postgres@127.0.0.1:1/test", id="postgresql-closed-port"),
]


def twilio_form(call_sid: str | None, **extra: str) -> dict[str, str]:
    """The fields Twilio posts to a voice webhook (CallSid left out when None)."""
    form = {
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": "+8613800138000",
        "To": "+8612333",
        "Caller": "+8613800138000",
        "Called": "+8612333",
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **extra,
    }
    if call_sid is not None:
        form["CallSid"] = call_sid
    return form


def sign(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for `form` posted to `url`."""
    return RequestValidator(token).compute_signature(url, form)


def post(
    app: Flask,
    url: str,
    form: dict[str, str],
    *,
    signed_url: str | None = None,
    signed_form: dict[str, str] | None = None,
    token: str | None = AUTH_TOKEN,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """POST `form` to the absolute `url`, signed (by default for that URL and form)."""
    parts = urlsplit(urljoin(BASE, url))
    headers = dict(headers or {})
    if token:
        target = signed_url or parts.geturl()
        headers["X-Twilio-Signature"] = sign(target, form if signed_form is None else signed_form)
    return app.test_client().post(
        parts.path,
        base_url=f"{parts.scheme}://{parts.netloc}",
        query_string=parts.query,
        data=form,
        headers=headers,
    )


def read(response: TestResponse, checker: TwimlChecker) -> Twiml:
    """A 200 TwiML answer, checker-checked and parsed."""
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert response.content_type.startswith("text/xml"), response.content_type
    return parse_twiml(response.data, checker)


def node_of(url: str | None) -> str | None:
    """The node named in a Gather action or Redirect URL."""
    assert url is not None
    return parse_qs(urlsplit(url).query).get("node", [None])[0]


def prompt(app: Flask, key: str, **fields: object) -> str:
    """A prompt text from the app's prompt file."""
    return app.extensions["ivr"].menu.text(key, **fields)


def prompts(app: Flask, *keys: str) -> list[str]:
    """The texts of several prompts, in order (as their <Say>s are expected)."""
    return [prompt(app, key) for key in keys]


@dataclass
class Line:
    """One call driven by raw signed posts that follow each Gather's action URL."""

    app: Flask
    checker: TwimlChecker
    call_sid: str
    token: str = AUTH_TOKEN
    action: str | None = None
    silence_url: str | None = None
    answers: list[TestResponse] = field(default_factory=list)

    def post(self, url: str, **fields: str) -> Twiml:
        """Post to `url` for this call and remember where its Gather posts next."""
        response = post(self.app, url, twilio_form(self.call_sid, **fields), token=self.token)
        self.answers.append(response)
        doc = read(response, self.checker)
        self.action, self.silence_url = doc.gather_action, doc.redirect
        return doc

    def dial(self) -> Twiml:
        """The call arrives."""
        return self.post("/voice")

    def press(self, digits: str) -> Twiml:
        """Post `digits` to the waiting Gather's action, as Twilio does."""
        assert self.action is not None, "the call is not waiting at a Gather"
        return self.post(self.action, Digits=digits, FinishedOnKey="")

    def to(self, node: str) -> Twiml:
        """Dial and walk to the main menu, the ID prompt or the PIN prompt."""
        doc = self.dial()
        if node in ("ask_id", "ask_pin"):
            doc = self.press("2")
        if node == "ask_pin":
            doc = self.press(ID_STAR)
        assert node_of(self.action) == node
        return doc

    def verified(self) -> Twiml:
        """Dial, choose 医疗保险服务 and verify as 王建国: waits at the medical menu."""
        self.to("ask_pin")
        doc = self.press(PIN)
        assert node_of(self.action) == "medical"
        return doc


MakeLine = Callable[..., Line]


def call_row(app: Flask, call_sid: str) -> Call | None:
    """The stored state of a call."""
    with app.extensions["ivr"].sessions() as session:
        return session.get(Call, call_sid)
