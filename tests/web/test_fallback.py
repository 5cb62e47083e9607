"""POST /voice/fallback: Twilio's request after a webhook failed, answered from the stored call.

A step that never committed is taken now, as the failed request would have taken it; a step
that committed (its answer lost on the way) is answered again, word for word; anything else
is answered from where the call is. Each test runs on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urljoin

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from ivr.sim.twiml_check import TwimlChecker
from store.models import CallEvent, Person
from tests.twiml_helpers import is_twiml
from tests.web.lines import (
    BASE,
    BROKEN_URLS,
    BUSY,
    ID_STAR,
    ID_X,
    PIN,
    WELCOME,
    Line,
    call_row,
    node_of,
    post,
    prompts,
    read,
    twilio_form,
)

FALLBACK = f"{BASE}/voice/fallback"
BALANCE = "一千二百三十四元五角六分"  # 王建国's demo balance
# (where the call waits, what is keyed there): a step of each kind up to the balance.
STEPS = [
    pytest.param("main", "2", id="menu-key"),
    pytest.param("ask_id", ID_STAR, id="id"),
    pytest.param("ask_pin", PIN, id="right-pin"),
    pytest.param("ask_pin", "000000", id="wrong-pin"),
    pytest.param("medical", "1", id="balance"),
    pytest.param("main", None, id="silence"),
]


def fallback(app: Flask, call_sid: str, error_url: str, code: str = "11205",
             **fields: str) -> TestResponse:  # fmt: skip
    """Twilio's fallback request: the failed request's form, ErrorCode and ErrorUrl, signed
    for the fallback URL."""
    failed = urljoin(BASE, error_url) if error_url.startswith("/") else error_url
    form = twilio_form(call_sid, ErrorCode=code, ErrorUrl=failed, **fields)
    return post(app, FALLBACK, form)


def waiting_at(line: Line, node: str) -> None:
    """Walk the line to `node`: the main menu, the ID or PIN prompt, or the medical menu."""
    if node == "medical":
        line.verified()
    else:
        line.to(node)


def step_url(line: Line, digits: str | None) -> str:
    """The URL Twilio posts the step to: the Gather's action, or its timeout's Redirect."""
    url = line.action if digits is not None else line.silence_url
    assert url is not None
    return url


def keyed(digits: str | None) -> dict[str, str]:
    """The step's form fields."""
    return {} if digits is None else {"Digits": digits, "FinishedOnKey": ""}


def events(app: Flask, call_sid: str) -> list[str]:
    """The outcomes the call's event log records, in order."""
    query = select(CallEvent.outcome).where(CallEvent.call_sid == call_sid)
    with app.extensions["ivr"].sessions() as session:
        return list(session.scalars(query.order_by(CallEvent.id)))


def failed_pins(app: Flask) -> int:
    """王建国's count of wrong PINs."""
    with app.extensions["ivr"].sessions() as session:
        return session.scalars(select(Person.failed_pins).where(Person.id_number == ID_X)).one()


@pytest.mark.parametrize(("node", "digits"), STEPS)
def test_a_step_that_never_committed_is_taken_by_the_fallback(
    app: Flask, make_line: Callable[..., Line], twiml_checker: TwimlChecker, node: str,
    digits: str | None,
) -> None:  # fmt: skip
    """The fallback answers exactly as the primary would have, and moves the call once."""
    primary, rescued = make_line(), make_line()
    waiting_at(primary, node)
    waiting_at(rescued, node)
    form = twilio_form(primary.call_sid, **keyed(digits))
    expected = read(post(app, step_url(primary, digits), form), twiml_checker)
    seq = call_row(app, rescued.call_sid).seq  # type: ignore[union-attr]
    url = step_url(rescued, digits)
    doc = read(fallback(app, rescued.call_sid, url, **keyed(digits)), twiml_checker)
    assert doc.says == expected.says and doc.verbs == expected.verbs
    assert doc.gather_action == expected.gather_action and doc.redirect == expected.redirect
    row, twin = call_row(app, rescued.call_sid), call_row(app, primary.call_sid)
    assert row is not None and twin is not None
    assert (row.seq, row.node, row.verified) == (seq + 1, twin.node, twin.verified)
    assert events(app, rescued.call_sid)[-1].startswith("fallback after 11205")


@pytest.mark.parametrize(("node", "digits"), STEPS)
def test_a_step_that_committed_is_answered_again_word_for_word(
    app: Flask, make_line: Callable[..., Line], node: str, digits: str | None
) -> None:
    """Its answer was lost after the commit: the fallback repeats it, and nothing moves."""
    line = make_line()
    waiting_at(line, node)
    url = step_url(line, digits)
    answered = post(app, url, twilio_form(line.call_sid, **keyed(digits)))
    before, wrong = call_row(app, line.call_sid), failed_pins(app)
    again = fallback(app, line.call_sid, url, code="11200", **keyed(digits))
    assert again.status_code == 200 and again.data == answered.data
    if digits == "1":
        assert BALANCE in again.get_data(as_text=True)  # the read-back is not lost
    after = call_row(app, line.call_sid)
    assert before is not None and after is not None
    assert (after.seq, after.node, after.verified) == (before.seq, before.node, before.verified)
    assert failed_pins(app) == wrong  # a wrong PIN is counted once, not again
    assert events(app, line.call_sid)[-1] == "replayed after 11200"


@pytest.mark.parametrize("committed", [False, True], ids=["never-committed", "committed"])
def test_a_failed_first_request_gets_the_welcome(
    app: Flask, twiml_checker: TwimlChecker, committed: bool
) -> None:
    """ErrorUrl /voice: a new call starts; a call whose start committed hears it again."""
    call_sid = "CAfallbackfirst01"
    dialled = post(app, "/voice", twilio_form(call_sid)) if committed else None
    response = fallback(app, call_sid, "/voice")
    doc = read(response, twiml_checker)
    assert doc.says == prompts(app, *WELCOME) and node_of(doc.gather_action) == "main"
    assert dialled is None or dialled.data == response.data
    row = call_row(app, call_sid)
    assert row is not None and row.seq == 1


@pytest.mark.parametrize(
    "error_url",
    ["/voice", "/voice/keys?node=medical&seq=7", "/voice/silence?node=ask_pin&seq=3"],
)
def test_an_unknown_callsid_at_the_fallback_hears_the_welcome(
    app: Flask, twiml_checker: TwimlChecker, error_url: str
) -> None:
    """No call stored under the CallSid: it starts from the welcome, whatever failed."""
    doc = read(fallback(app, "CAfallbacknobody", error_url, Digits="1"), twiml_checker)
    assert doc.says == prompts(app, *WELCOME)
    assert not any("元" in said for said in doc.says)


@pytest.mark.parametrize(
    "signed_url",
    [
        pytest.param("primary", id="signed-for-the-failed-url"),
        pytest.param(f"{BASE}/voice", id="signed-for-voice"),
        pytest.param(None, id="unsigned"),
    ],
)
def test_a_bad_signature_at_the_fallback_is_403(
    app: Flask, make_line: Callable[..., Line], signed_url: str | None
) -> None:
    """The fallback is signed over its own URL, like every webhook; nothing moves without."""
    line = make_line()
    line.to("ask_pin")
    url = urljoin(BASE, line.action or "")
    form = twilio_form(line.call_sid, Digits=PIN, ErrorCode="11205", ErrorUrl=url)
    target = url if signed_url == "primary" else signed_url
    response = post(app, FALLBACK, form, signed_url=target, token=None if target is None else "x")
    if target is not None:  # signed, but for the wrong URL
        response = post(app, FALLBACK, form, signed_url=target)
    assert response.status_code == 403 and not is_twiml(response.data)
    row = call_row(app, line.call_sid)
    assert row is not None and row.node == "ask_pin" and not row.verified


GARBAGE_URLS = [
    pytest.param("", id="empty"),
    pytest.param("not a url", id="words"),
    pytest.param("http://[::1/voice/keys?node=medical&seq=9", id="broken-host"),
    pytest.param("/voice/keys?node=medical&seq=abc", id="seq-not-a-number"),
    pytest.param("/voice/keys?node=medical", id="no-seq"),
    pytest.param("/voice/keys", id="no-query"),
    pytest.param("/voice/fallback?node=medical&seq=9", id="the-fallback-itself"),
    pytest.param("/voice/status", id="another-webhook"),
    pytest.param("javascript:alert(1)", id="scheme"),
    pytest.param("/voice/keys?" + "&".join(f"n{i}=1" for i in range(500)), id="many-fields"),
    pytest.param("/voice/keys?node=%00&seq=%ff", id="control-bytes"),
]


@pytest.mark.parametrize("error_url", GARBAGE_URLS)
@pytest.mark.parametrize("code", ["11205", "", "<script>"])
def test_a_garbage_error_url_is_answered_from_where_the_call_is(
    app: Flask, make_line: Callable[..., Line], twiml_checker: TwimlChecker, error_url: str,
    code: str,
) -> None:  # fmt: skip
    """An ErrorUrl that names no step of the call moves nothing: the caller hears the
    menu they are at again, no balance, and the call goes on."""
    line = make_line()
    line.verified()
    doc = read(fallback(app, line.call_sid, error_url, code=code, Digits="1"), twiml_checker)
    assert doc.says == prompts(app, "medical_menu") and node_of(doc.gather_action) == "medical"
    assert not any("元" in said for said in doc.says)
    line.action = doc.gather_action
    assert BALANCE in "".join(line.press("1").says)  # the re-prompt's URL works
    outcome = events(app, line.call_sid)[-2]
    assert outcome.startswith("fallback after ") and "<" not in outcome


def test_a_stale_step_is_answered_from_where_the_call_is(
    app: Flask, make_line: Callable[..., Line], twiml_checker: TwimlChecker
) -> None:
    """A fallback for a step two behind (neither the current nor the last): a re-prompt."""
    line = make_line()
    line.to("ask_pin")
    pin_url = line.action or ""
    line.press("000000")  # wrong: back to the ID prompt
    line.press(ID_STAR)  # at the PIN prompt again, two steps on
    doc = read(fallback(app, line.call_sid, pin_url, Digits=PIN), twiml_checker)
    assert doc.says == prompts(app, "ask_pin") and node_of(doc.gather_action) == "ask_pin"
    row = call_row(app, line.call_sid)
    assert row is not None and not row.verified


def test_an_ended_call_is_not_replayed_after_its_status_callback(
    app: Flask, make_line: Callable[..., Line], twiml_checker: TwimlChecker
) -> None:
    """Once Twilio reports the call over, its last answer is forgotten: goodbye, not the
    balance, even for a fallback naming the last step."""
    line = make_line()
    line.verified()
    url = line.action or ""
    line.press("1")
    assert post(app, "/voice/status", twilio_form(line.call_sid, CallStatus="completed"))
    doc = read(fallback(app, line.call_sid, url, Digits="1"), twiml_checker)
    assert doc.verbs[-1] == "Hangup" and not any("元" in said for said in doc.says)
    row = call_row(app, line.call_sid)
    assert row is not None and row.ended and "元" not in (row.last_answer or "")


@pytest.mark.parametrize("broken_url", BROKEN_URLS)
def test_the_fallback_says_busy_when_the_database_is_down(
    make_app: Callable[..., Flask], twiml_checker: TwimlChecker, broken_url: str
) -> None:
    """Never a 500: with no database the caller hears the busy message and is hung up."""
    app = make_app(IVR_DATABASE_URL=broken_url)
    response = fallback(app, "CAfallbackdown01", "/voice/keys?node=main&seq=1", Digits="2")
    doc = read(response, twiml_checker)
    assert doc.says == [BUSY] and doc.verbs == ["Say", "Hangup"]
