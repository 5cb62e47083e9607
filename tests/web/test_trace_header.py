"""The X-IVR-Trace header: each webhook answer tells where the engine took the call."""

from __future__ import annotations

from datetime import date

from flask import Flask
from lxml import etree

from ivr.core.engine import step
from ivr.core.events import CallState, Env, Keys, Reached, Took
from ivr.core.trace import TRACE_HEADER, decode
from ivr.web.request import keys_url, silence_url
from store.demo import WANG_JIANGUO
from tests.conftest import post_status, signed_post

SID = "CA" + "7" * 32
WANG_KEYED = WANG_JIANGUO[:-1] + "*"
WANG_PIN = "135790"


def answer(app: Flask, url: str, digits: str | None = None):
    """Post to the hotline as Twilio would; the reply."""
    form = {"CallSid": SID, "From": "+8613800138000"}
    if digits is not None:
        form.update(Digits=digits, FinishedOnKey="")
    return signed_post(app, url, form)


def gather_action(reply) -> tuple[str, str]:
    """Where the reply's Gather posts keys, and where its fall-through goes on silence."""
    root = etree.fromstring(reply.data)
    return root.find("Gather").get("action"), root.findtext("Redirect")


def test_each_answer_traces_every_engine_step_of_its_request(app: Flask) -> None:
    reply = answer(app, "http://localhost/voice")
    assert reply.headers[TRACE_HEADER] == "welcome, welcome:next, main"
    keys, _ = gather_action(reply)
    reply = answer(app, f"http://localhost{keys}", "2")
    assert reply.headers[TRACE_HEADER] == "main:key+2+->+medical, medical:identity+gate, ask_id"
    # The ID is looked up (an effect), and the engine steps again with the result.
    keys, _ = gather_action(reply)
    reply = answer(app, f"http://localhost{keys}", WANG_KEYED)
    assert decode(reply.headers[TRACE_HEADER]) == (
        Took("ask_id", "input"), Took("ask_id", "next"), Reached("ask_pin"),
    )  # fmt: skip
    keys, _ = gather_action(reply)
    reply = answer(app, f"http://localhost{keys}", WANG_PIN)
    assert reply.headers[TRACE_HEADER] == "ask_pin:input, medical"
    _, silence = gather_action(reply)
    reply = answer(app, f"http://localhost{silence}")
    assert reply.headers[TRACE_HEADER] == "medical:timeout"
    # A stale request moves no call: answered from where it is, with an empty trace.
    stale = answer(app, f"http://localhost{keys}", WANG_PIN)
    assert stale.status_code == 200 and stale.headers[TRACE_HEADER] == ""


def test_the_trace_holds_no_keyed_digits(app: Flask) -> None:
    keys, _ = gather_action(answer(app, "http://localhost/voice"))
    keys, _ = gather_action(answer(app, f"http://localhost{keys}", "2"))
    traced = answer(app, f"http://localhost{keys}", WANG_KEYED).headers[TRACE_HEADER]
    keys, _ = gather_action(answer(app, f"http://localhost{keys}", "1234567"))  # refused
    refused = answer(app, f"http://localhost{keys}", "1234567").headers[TRACE_HEADER]
    assert refused == "ask_pin:input, ask_pin:invalid+key"
    assert not any(digit in traced + refused for digit in "0123456789")


def test_answers_that_step_no_engine_carry_no_trace(app: Flask) -> None:
    answer(app, "http://localhost/voice")
    assert post_status(app, SID) == 204
    dialled = signed_post(app, "http://localhost/voice/dialled", {"CallSid": SID})
    assert dialled.status_code == 200 and TRACE_HEADER not in dialled.headers


def test_the_trace_leaves_the_twiml_as_it_was(app: Flask) -> None:
    """Rendering ignores the trace: the same document with or without it."""
    line = app.extensions["ivr"]
    env = Env(date(2026, 11, 25), True, {"zh-CN": "", "en-US": ""})
    _, actions = step(line.menu, CallState("main"), Keys("9", env))  # to English and back
    untraced = [a for a in actions if not isinstance(a, Reached | Took)]
    assert len(actions) - len(untraced) == 4  # key 9, language, its next, main
    with app.test_request_context("/voice"):
        render = line.renderer.render
        assert render(actions, 1, keys_url, silence_url) == render(
            untraced, 1, keys_url, silence_url
        )
