"""The softphone's JSON API (IVR_SOFTPHONE=1), driven through the server-side simulator.

Calls are saved in the database between requests, one action at a time, keyed input masked;
no /phone URL answers when it is off, nor to anyone but this machine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.sim import caller as simulator
from ivr.sim.caller import Caller
from ivr.sim.state import StateError, restore, snapshot
from ivr.sim.transport import FlaskTransport
from ivr.softphone import calls as softphone_calls
from ivr.softphone import lock as softphone_lock
from ivr.softphone.lock import CallBusy, held
from ivr.softphone.menu_json import menu_json
from ivr.web import views
from store.demo import WANG_JIANGUO
from store.models import Call, PhoneCall

WANG_KEYED = WANG_JIANGUO[:-1] + "*"  # 65010219680312109X, the X keyed as *
WANG_PIN = "135790"
BALANCE_WORDS = "一千二百三十四元五角六分"
API = "/phone/api"


@pytest.fixture
def phone(make_phone: Callable[..., Flask]) -> FlaskClient:
    """A client of an app with the softphone on."""
    return make_phone().test_client()


def post(client: FlaskClient, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
    """POST JSON to the API and return the JSON answer, checking its status."""
    response = client.post(API + path, json={} if body is None else body)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def dial(client: FlaskClient, **body: str) -> dict[str, Any]:
    """Start a call."""
    return post(client, "/calls", body, 201)


def keys(client: FlaskClient, call: dict[str, Any], pressed: str, status: int = 200):
    """Press keys in the call."""
    return post(client, f"/calls/{call['id']}/keys", {"keys": pressed}, status)


def heard(call: dict[str, Any]) -> str:
    """Everything heard in the call's turns."""
    return "".join(turn["text"] for turn in call["turns"] if turn["kind"] == "heard")


def test_dialling_hears_the_welcome_and_waits_at_the_main_menu(phone: FlaskClient) -> None:
    call = dial(phone)
    assert call["id"].startswith("CA") and call["from"] == "+8613800138000"
    assert (call["ended"], call["end_state"], call["node"]) == (False, None, "main")
    waiting = call["waiting"]
    assert {k: waiting.pop(k) for k in ("num_digits", "finish_on_key", "timeout", "keys")} == {
        "num_digits": 1, "finish_on_key": "", "timeout": 5, "keys": True}  # fmt: skip
    # The main menu listens for speech too, and suggests its phrases to the recogniser.
    assert waiting.pop("speech") is True
    assert {"社会保险", "医疗保险", "转人工", "医保余额"} <= set(waiting.pop("hints"))
    assert waiting == {}
    assert "欢迎致电" in heard(call) and "医疗保险服务请按二" in heard(call)
    request = next(turn for turn in call["turns"] if turn["kind"] == "request")
    assert (request["method"], request["url"], request["status"]) == ("POST", "/voice", 200)
    assert request["node"] is None and request["form"]["From"] == "+8613800138000"
    assert request["twiml"].startswith("<Response") and "\n  <Gather" in request["twiml"]
    assert isinstance(request["elapsed_ms"], float)
    assert all(turn["audio"] is None for turn in call["turns"] if turn["kind"] == "heard")


def test_keys_go_on_and_answer_only_the_turns_they_added(phone: FlaskClient) -> None:
    call = dial(phone, **{"from": "8613900139000"})
    assert call["from"] == "8613900139000"
    after = keys(phone, call, "2")  # the medical menu asks who is calling first
    assert (after["node"], after["waiting"]["finish_on_key"]) == ("ask_id", "#")
    assert [t["kind"] for t in after["turns"][:2]] == ["pressed", "request"]
    assert "欢迎" not in heard(after)
    assert after["turns"][0]["text"] == "2" and after["turns"][1]["node"] == "main"
    assert "身份证号码" in heard(after)
    whole = phone.get(f"{API}/calls/{call['id']}").get_json()
    assert whole["turns"] == call["turns"] + after["turns"]
    assert whole["node"] == "ask_id"


def test_a_whole_balance_call_keeps_the_id_and_pin_out_of_every_answer(
    phone: FlaskClient,
) -> None:
    answers: list[str] = []

    def step(path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        response = phone.post(API + path, json={} if body is None else body)
        answers.append(response.get_data(as_text=True))
        assert response.status_code == status, answers[-1]
        return response.get_json()

    call = step("/calls", {}, 201)
    sid = call["id"]
    for pressed in ("2", WANG_KEYED + "#"):
        step(f"/calls/{sid}/keys", {"keys": pressed})
    assert step(f"/calls/{sid}/keys", {"keys": WANG_PIN + "#"})["node"] == "medical"
    balance = step(f"/calls/{sid}/keys", {"keys": "1"})
    assert BALANCE_WORDS in heard(balance) and balance["node"] == "medical"
    assert any("<Response" in t.get("twiml", "") for t in balance["turns"])
    answers.append(phone.get(f"{API}/calls/{sid}").get_data(as_text=True))
    step(f"/calls/{sid}/hangup")
    pressed = [t["text"] for t in json.loads(answers[-2])["turns"] if t["kind"] == "pressed"]
    assert pressed == ["2", "**************109*#", "******#", "1"]
    for answer in answers:  # decoded: Flask's JSON escapes 王建国 as \\u738b…
        text = json.dumps(json.loads(answer), ensure_ascii=False)
        assert WANG_PIN not in text and WANG_JIANGUO[:-1] not in text
        assert WANG_JIANGUO[:8] not in text and "王建国" not in text


def test_a_single_key_at_the_pin_prompt_is_masked_too(phone: FlaskClient) -> None:
    call = dial(phone)
    keys(phone, call, "2")
    keys(phone, call, WANG_KEYED + "#")
    after = keys(phone, call, "7")  # one digit, then the Gather times out
    assert after["turns"][0] == {"kind": "pressed", "text": "*"}
    request = after["turns"][1]
    assert request["node"] == "ask_pin" and request["form"]["Digits"] == "*"


def test_silence_times_the_gather_out(phone: FlaskClient) -> None:
    call = dial(phone)
    after = post(phone, f"/calls/{call['id']}/silence")
    assert [t["kind"] for t in after["turns"][:2]] == ["silence", "request"]
    assert "没有收到您的按键" in heard(after)
    assert (after["node"], after["ended"]) == ("main", False)


def test_hangup_ends_the_call_at_the_hotline_too(make_phone: Callable[..., Flask]) -> None:
    app = make_phone()
    client = app.test_client()
    call = dial(client)
    over = post(client, f"/calls/{call['id']}/hangup")
    assert (over["ended"], over["end_state"], over["node"], over["waiting"]) == (
        True, "caller_hangup", None, None)  # fmt: skip
    with app.extensions["ivr"].sessions() as session:  # Twilio's status callback ended it
        assert session.get(Call, call["id"]).ended
    for path, body in (("keys", {"keys": "2"}), ("silence", None), ("hangup", None)):
        refused = post(client, f"/calls/{call['id']}/{path}", body, 409)
        assert "ended (caller_hangup)" in refused["error"]
    assert client.get(f"{API}/calls/{call['id']}").get_json()["ended"] is True


@pytest.mark.parametrize("path", ["/phone", "/phone/static/phone.js", "/phone/static/x.css",
                                  f"{API}/menu", f"{API}/calls/CA123"])  # fmt: skip
def test_off_by_default_every_phone_url_is_a_404(make_app: Callable[..., Flask],
                                                 path: str) -> None:  # fmt: skip
    client = make_app().test_client()
    assert client.get(path).status_code == 404
    assert client.post(f"{API}/calls", json={}).status_code == 404


def test_the_page_and_its_files_are_served(phone: FlaskClient) -> None:
    with phone.get("/phone") as page:  # a file response: closed, or it leaks the file
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert b"<html" in page.get_data().lower()
    assert phone.get("/phone/static/no-such-file.js").status_code == 404


@pytest.mark.parametrize(("path", "data", "message"), [
    ("/calls", "not json", "not JSON"), ("/calls", "[1, 2]", "JSON object"),
    ("/calls", '{"from": "x"}', '"from"'), ("/calls", '{"from": "12"}', '"from"'),
    ("/calls", '{"from": 8613800138000}', '"from"'), ("/calls", '{"from": "+86138\\n"}', '"from"'),
    ("/calls/{id}/keys", '{"keys": "abc"}', '"keys"'), ("/calls/{id}/keys", "{}", '"keys"'),
    ("/calls/{id}/keys", '{"keys": ""}', '"keys"'), ("/calls/{id}/keys", '{"keys": 2}', '"keys"'),
    ("/calls/{id}/keys", json.dumps({"keys": "1" * 21}), "1 to 20 of the keys"),
    ("/calls/{id}/keys", json.dumps({"keys": "*" * 25}), "1 to 20 of the keys"),
    ("/calls/{id}/keys", "keys=2", "not JSON"), ("/calls/{id}/keys", b"\xff\xfe\x00", "not JSON"),
])  # fmt: skip
def test_bad_input_is_a_400_with_a_reason(phone: FlaskClient, path: str, data: str | bytes,
                                          message: str) -> None:  # fmt: skip
    call = dial(phone)
    response = phone.post(API + path.format(id=call["id"]), data=data,
                          content_type="application/json")  # fmt: skip
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert phone.get(f"{API}/calls/{call['id']}").get_json()["turns"] == call["turns"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/calls/CAnosuchcall"), ("POST", "/calls/CAnosuchcall/keys"),
     ("POST", "/calls/CAnosuchcall/hangup"), ("GET", "/calls/bad.id"), ("GET", "/calls"),
     ("GET", "/calls/CA1/keys"), ("DELETE", "/calls/CA1"), ("GET", "/nowhere")],
)  # fmt: skip
def test_unknown_calls_and_urls_are_a_json_404(phone: FlaskClient, method: str,
                                               path: str) -> None:  # fmt: skip
    response = phone.open(API + path, method=method, json={"keys": "1"})
    assert response.status_code == 404 and response.get_json()["error"]


def test_a_call_goes_on_at_another_worker(make_phone: Callable[..., Flask]) -> None:
    """Two apps on one database stand for two gunicorn workers: nothing lives in memory."""
    first, second = make_phone().test_client(), make_phone().test_client()
    call = dial(first)
    assert keys(second, call, "2")["node"] == "ask_id"
    assert keys(first, call, WANG_KEYED + "#")["node"] == "ask_pin"
    whole = second.get(f"{API}/calls/{call['id']}").get_json()
    assert [t["text"] for t in whole["turns"] if t["kind"] == "pressed"] == [
        "2", "**************109*#"]  # fmt: skip


def _press_in_thread(client: FlaskClient, call: dict[str, Any], pressed: str,
                     answers: list[Any]) -> threading.Thread:  # fmt: skip
    """Press keys from another thread, as another worker would; its answer goes to `answers`."""

    def press() -> None:
        response = client.post(f"{API}/calls/{call['id']}/keys", json={"keys": pressed})
        answers.append((response.status_code, response.get_json()))

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    return thread


def test_two_quick_presses_on_two_workers_apply_one_after_the_other(
    make_phone: Callable[..., Flask],
) -> None:
    """The test holds the call's lock for the first press; the second waits for it."""
    first, second = make_phone(), make_phone()
    call = dial(first.test_client())
    line = first.extensions["ivr"]
    answers: list[Any] = []
    with held(line, call["id"], line.clock().astimezone(UTC)) as locked:
        waiting = _press_in_thread(second.test_client(), call, "2", answers)
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and not answers  # blocked while the lock is held
        with first.app_context():  # the first press, made under the lock
            caller = softphone_calls.dialler().caller(locked.saved["caller"])
            caller.press("2")
            locked.save({"caller": snapshot(caller)})
        assert waiting.is_alive() and not answers
    waiting.join(timeout=60)
    assert [status for status, _ in answers] == [200]
    assert answers[0][1]["turns"][0] == {"kind": "pressed", "text": "*"}  # keyed at ask_id
    whole = second.test_client().get(f"{API}/calls/{call['id']}").get_json()
    requests = [t["url"] for t in whole["turns"] if t["kind"] == "request"]
    assert [t["text"] for t in whole["turns"] if t["kind"] == "pressed"] == ["2", "*"]  # an ID key
    assert requests[1:] == ["/voice/keys?node=main&seq=1", "/voice/keys?node=ask_id&seq=2"]


def test_an_action_waiting_too_long_for_the_lock_is_a_503(
    make_phone: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(softphone_lock, "WAIT_SECONDS", 0.3)
    app = make_phone()
    client = app.test_client()
    call = dial(client)
    line = app.extensions["ivr"]
    answers: list[Any] = []
    with held(line, call["id"], line.clock().astimezone(UTC)):
        _press_in_thread(make_phone().test_client(), call, "2", answers).join(timeout=30)
    assert answers and answers[0][0] == 503, answers
    assert "still running" in answers[0][1]["error"]
    assert keys(client, call, "2")["node"] == "ask_id"  # the call goes on once it is free


def test_a_lapsed_lease_taken_over_is_not_overwritten_by_its_old_holder(
    make_phone: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """SQLite's lease (tried on every backend): the worker that lost it saves nothing."""
    app = make_phone()
    call = dial(app.test_client())
    line = app.extensions["ivr"]
    now = line.clock().astimezone(UTC)
    monkeypatch.setattr(softphone_lock, "LEASE_SECONDS", -1)  # every lease lapses at once
    old = softphone_lock.leased(line, call["id"], now)
    old_call = old.__enter__()
    with softphone_lock.leased(line, call["id"], now) as new_call:  # takes the lapsed lease
        assert new_call.saved == old_call.saved
        old_call.save({"by": "old"})
        with pytest.raises(CallBusy):
            old.__exit__(None, None, None)
        with line.sessions() as session:  # the new holder's lease and state, untouched
            state = json.loads(session.get(PhoneCall, call["id"]).state)
        assert "by" not in state and state[softphone_lock.OWNER]
        new_call.save({"by": "new"})
    with line.sessions() as session:
        assert json.loads(session.get(PhoneCall, call["id"]).state) == {"by": "new"}
    assert "lease lapsed and was taken over" in caplog.text


def test_a_call_past_the_simulators_documents_in_a_row_is_hung_up(
    make_phone: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected answer is a 502, and the call is over (as Twilio ends it), not stuck."""
    app = make_phone()
    client = app.test_client()
    call = dial(client)
    monkeypatch.setattr(simulator, "MAX_DOCUMENTS_PER_ACTION", 3)  # 4 keys at the main menu
    refused = keys(client, call, "*" * 5, 502)
    assert "more than 3 documents" in refused["error"]
    whole = client.get(f"{API}/calls/{call['id']}").get_json()
    assert (whole["ended"], whole["end_state"], whole["waiting"]) == (True, "caller_hangup", None)
    assert "ended (caller_hangup)" in keys(client, call, "1", 409)["error"]
    with app.extensions["ivr"].sessions() as session:  # Twilio's status callback ended it
        assert session.get(Call, call["id"]).ended


@pytest.mark.parametrize("path", ["/phone", "/phone/static/phone.js", f"{API}/menu",
                                  f"{API}/calls/CA123"])  # fmt: skip
@pytest.mark.parametrize("request_from", [
    {"environ_base": {"REMOTE_ADDR": "203.0.113.5"}},
    {"environ_base": {"REMOTE_ADDR": "::ffff:203.0.113.5"}},
    {"headers": {"X-Forwarded-For": "203.0.113.5"}},  # a tunnel (ngrok) forwarding to localhost
    {"headers": {"Forwarded": "for=203.0.113.5"}},
    {"headers": {"X-Forwarded-Host": "abc.ngrok.app"}},
])  # fmt: skip
def test_only_this_machine_may_use_the_softphone(
    make_phone: Callable[..., Flask], make_app: Callable[..., Flask], path: str,
    request_from: dict[str, Any],
) -> None:  # fmt: skip
    """Anyone else gets the very 404 of a softphone that is off: nothing tells it exists."""
    client = make_phone().test_client()
    off = make_app().test_client().get(path)
    for method in ("GET", "POST"):
        response = client.open(path, method=method, json={}, **request_from)
        assert (response.status_code, response.mimetype) == (404, off.mimetype)
        assert response.get_data() == off.get_data()


OWN = "localhost:8000"  # the Host and origin of the page in the table below, unless given
# (method, Host, Origin or None, Content-Type, allowed): the page's own requests, and what
# a page of another site, or one that rebound its name to 127.0.0.1, could send.
REQUESTS = [
    ("POST", OWN, None, "application/json", True),
    ("POST", OWN, "http://localhost:8000", "application/json", True),
    ("POST", OWN, "http://localhost:8000", "application/json; charset=utf-8", True),
    ("POST", "LocalHost:8000", "http://localhost:8000", "application/json", True),
    ("POST", "localhost", "http://localhost", "application/json", True),  # port 80
    ("POST", "localhost:80", "http://localhost", "application/json", True),
    ("POST", "127.0.0.1:5000", "http://127.0.0.1:5000", "application/json", True),
    ("POST", "127.0.0.2:5000", None, "application/json", True),
    ("POST", "[::1]:8000", "http://[::1]:8000", "application/json", True),
    # DNS rebinding: the browser thinks it talks to evil.example, and says so in Host
    ("POST", "evil.example:8000", "http://evil.example:8000", "text/plain", False),
    ("POST", "evil.example:8000", "http://evil.example:8000", "application/json", False),
    ("POST", "evil.example:8000", None, "application/json", False),
    ("GET", "evil.example:8000", None, None, False),
    ("POST", "localhost.evil.example:8000", None, "application/json", False),
    ("POST", "127.0.0.1.nip.io:8000", None, "application/json", False),
    ("POST", "0.0.0.0:8000", None, "application/json", False),
    ("POST", "192.168.1.5:8000", None, "application/json", False),
    ("POST", "localhost:port", None, "application/json", False),
    ("POST", "[::1", None, "application/json", False),
    # a page of another origin in the developer's browser: a simple request, or a preflighted one
    ("POST", OWN, "http://evil.example", "text/plain", False),
    ("POST", OWN, "http://evil.example", "application/json", False),
    ("POST", OWN, "http://localhost:8001", "application/json", False),  # another local server
    ("POST", OWN, "http://127.0.0.1:8000", "application/json", False),  # another name for it
    ("POST", OWN, "https://localhost:8000", "application/json", False),
    ("POST", OWN, "null", "application/json", False),  # a sandboxed frame, a file:// page
    ("POST", OWN, "http://localhost:8000/phone", "application/json", False),  # not an origin
    # bodies a form or a simple fetch can send without a preflight, even from this origin
    ("POST", OWN, None, "text/plain", False),
    ("POST", OWN, "http://localhost:8000", "text/plain;charset=UTF-8", False),
    ("POST", OWN, None, "application/x-www-form-urlencoded", False),
    ("POST", OWN, None, "multipart/form-data; boundary=x", False),
    ("POST", OWN, None, None, False),
    ("POST", OWN, None, "application/jsonp", False),
    # reading changes nothing, and CORS keeps the answer from another page
    ("GET", OWN, None, None, True),
    ("GET", OWN, "http://evil.example", None, True),
    ("GET", "[::1]:8000", None, None, True),
]  # fmt: skip


@pytest.mark.parametrize(("method", "host", "origin", "content_type", "allowed"), REQUESTS)
def test_only_the_pages_own_requests_to_this_machine_are_answered(
    make_phone: Callable[..., Flask], make_app: Callable[..., Flask], method: str, host: str,
    origin: str | None, content_type: str | None, allowed: bool,
) -> None:  # fmt: skip
    """Anything else gets the 404 of a softphone that is off, and dials nobody."""
    app = make_phone()
    path = f"{API}/calls" if method == "POST" else f"{API}/menu"
    headers = {"Host": host, **({"Origin": origin} if origin is not None else {})}
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = b'{"from": "+8613800138000"}' if method == "POST" else None
    response = app.test_client().open(path, method=method, headers=headers, data=body)
    if allowed:
        assert response.status_code == (201 if method == "POST" else 200), response.data
    else:
        off = make_app().test_client().open(path, method=method)
        assert (response.status_code, response.mimetype) == (404, off.mimetype)
        assert response.get_data() == off.get_data()
    with app.extensions["ivr"].sessions() as session:
        dialled = session.scalars(select(PhoneCall.call_sid)).all()
    assert len(dialled) == (1 if allowed and method == "POST" else 0)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1"])
def test_loopback_clients_may_use_the_softphone(phone: FlaskClient, address: str) -> None:
    response = phone.get(f"{API}/menu", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200 and response.get_json()["start"]


def test_an_answer_twilio_would_reject_is_a_502_and_the_turns_are_kept(
    phone: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    call = dial(phone)
    monkeypatch.setattr(
        views, "_xml", lambda document: views.Response("oops", 200, mimetype="text/plain")
    )
    refused = keys(phone, call, "2", 502)
    assert "text/plain" in refused["error"] and "oops" in refused["error"]
    whole = phone.get(f"{API}/calls/{call['id']}").get_json()
    assert whole["turns"][-1]["twiml"] == "oops" and whole["waiting"] is None
    assert (whole["ended"], whole["end_state"]) == (True, "caller_hangup")  # as Twilio ends it
    assert "ended (caller_hangup)" in keys(phone, call, "1", 409)["error"]


def test_invalid_twiml_is_a_502_that_names_the_rule(
    phone: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No schema anywhere is needed: the project's own checker refuses the answer."""
    call = dial(phone)
    invalid = "<Response><Say>请按<Play>/a.wav</Play></Say></Response>"
    monkeypatch.setattr(
        views,
        "_xml",
        lambda document, headers=None: views.Response(invalid, 200, mimetype="text/xml"),
    )
    refused = keys(phone, call, "2", 502)
    assert "Response/Say[1]: <Play> is not allowed inside <Say>" in refused["error"]
    whole = phone.get(f"{API}/calls/{call['id']}").get_json()
    assert (whole["ended"], whole["end_state"]) == (True, "caller_hangup")


def test_old_calls_are_swept_when_a_call_starts(make_phone: Callable[..., Flask]) -> None:
    app = make_phone()
    with app.extensions["ivr"].sessions.begin() as session:
        session.add(PhoneCall(call_sid="CAold", state="{}",
                              updated_at=datetime(2026, 11, 25, 0, 0, tzinfo=UTC)))  # fmt: skip
    call = dial(app.test_client())
    with app.extensions["ivr"].sessions() as session:
        assert session.scalars(select(PhoneCall.call_sid)).all() == [call["id"]]


def test_a_call_saved_by_another_version_is_refused(make_phone: Callable[..., Flask]) -> None:
    app = make_phone()
    client = app.test_client()
    call = dial(client)
    with app.extensions["ivr"].sessions.begin() as session:
        session.get(PhoneCall, call["id"]).state = json.dumps({"caller": {"v": 0}})
    assert "another version" in keys(client, call, "2", 409)["error"]
    assert client.get(f"{API}/calls/{call['id']}").status_code == 409


def test_play_mode_gives_each_heard_turn_an_audio_path_this_app_serves(
    make_phone: Callable[..., Flask], audio_dir: Path
) -> None:
    client = make_phone(IVR_SPEECH="play", IVR_AUDIO_DIR=str(audio_dir)).test_client()
    call = dial(client)
    turns = list(call["turns"])
    for pressed in ("2", WANG_KEYED + "#", WANG_PIN + "#", "1"):
        turns += keys(client, call, pressed)["turns"]
    said = [turn for turn in turns if turn["kind"] == "heard"]
    assert BALANCE_WORDS in "".join(turn["text"] for turn in said)  # read-backs tell their text
    paths = [turn["audio"] for turn in said]
    assert all(path.startswith("/audio/") for path in paths)
    assert any(path.startswith("/audio/calls/") for path in paths)
    for path in paths:
        with client.get(path) as audio:  # a file response: closed, or it leaks the file
            assert (audio.status_code, audio.mimetype) == (200, "audio/wav") and audio.data
    post(client, f"/calls/{call['id']}/hangup")  # the call's read-backs go with it
    private = [path for path in paths if path.startswith(f"/audio/calls/{call['id']}/")]
    assert private and all(client.get(path).status_code == 404 for path in private)


def test_the_menu_lists_every_node_with_edges_to_nodes_that_exist(
    make_phone: Callable[..., Flask],
) -> None:
    app = make_phone()
    tree = app.test_client().get(f"{API}/menu").get_json()
    menu = app.extensions["ivr"].menu
    names = [node["name"] for node in tree["nodes"]]
    assert tree["start"] == menu.start and sorted(names) == sorted(menu.nodes)
    kinds_ = {"option", "next", "timeout", "invalid", "agent", "back", "more"}
    for node in tree["nodes"]:
        assert node["type"] == menu.nodes[node["name"]].type.value
        assert 0 < len(node["label"]) <= 40
        for edge in node["edges"]:
            assert edge["target"] in menu.nodes and edge["kind"] in kinds_
    by_name = {node["name"]: node for node in tree["nodes"]}
    medical = {(e["key"], e["kind"]): e["target"] for e in by_name["medical"]["edges"]}
    assert medical[("1", "option")] == "balance" and medical[("#", "back")] == "main"
    assert medical[("0", "agent")] == "agent" and medical[("*", "option")] == "medical"
    assert medical[("", "timeout")] == medical[("", "invalid")] == "medical"
    assert {"key": "", "target": "main", "kind": "next"} in by_name["welcome"]["edges"]
    paging = {(e["key"], e["kind"]): e["target"] for e in by_name["statement"]["edges"]}
    assert paging[("1", "more")] == paging[("*", "option")] == "statement"
    assert by_name["main"]["label"].startswith("社会保险查询请按一")


def test_a_caller_saved_between_actions_goes_on_where_it_was(app: Flask) -> None:
    """snapshot/restore keep the Gather and the verbs after it, across a JSON round trip."""
    caller = Caller(FlaskTransport(app), auth_token=app.config["IVR_AUTH_TOKEN"])
    caller.dial()
    data = json.loads(json.dumps(snapshot(caller)))
    again = restore(data, FlaskTransport(app), auth_token=app.config["IVR_AUTH_TOKEN"])
    assert (again.waiting, again.heard, again.call_sid) == (caller.waiting, caller.heard,
                                                            caller.call_sid)  # fmt: skip
    assert [t.kind for t in again.transcript] == [t.kind for t in caller.transcript]
    assert "没有收到您的按键" in again.silence()  # the verbs after the Gather, restored
    with pytest.raises(StateError, match="another version"):
        restore({**data, "v": 0}, FlaskTransport(app))
    with pytest.raises(StateError, match="damaged"):
        restore({k: v for k, v in data.items() if k != "waiting"}, FlaskTransport(app))


def test_only_the_key_towards_the_start_is_a_way_back() -> None:
    """main→medical (2) leads down, medical→main (#) leads back: menus name each other."""
    tree = menu_json(load_menu(SETTINGS["IVR_MENU"][0]))
    kinds = {
        (n["name"], e["key"]): e["kind"] for n in tree["nodes"] for e in n["edges"] if e["key"]
    }
    assert kinds[("main", "2")] == "option" and kinds[("medical", "#")] == "back"
    assert kinds[("main", "0")] == "agent"
