"""The softphone's say endpoint (POST /phone/api/calls/ID/say), against a hotline that listens
for speech: the hand-made one of tests/speech_hotline.py, which records exactly what was
posted, put where the softphone's dialler would build its in-process copy of this app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ivr.sim.twiml_check import TwimlChecker
from ivr.softphone.calls import EXTENSION, Dialler
from tests.speech_hotline import ASK_NAME, ASK_PIN, HINTS, SpeechHotline, speech_hotline

API = "/phone/api"


def speaking_phone(make_app: Callable[..., Flask]) -> tuple[Flask, SpeechHotline]:
    """An app with the softphone on, whose calls reach the fake speech hotline."""
    app, line = make_app(IVR_SOFTPHONE="1"), speech_hotline()
    app.extensions[EXTENSION] = Dialler(line.app, None, TwimlChecker())
    return app, line


@pytest.fixture
def phone(make_app: Callable[..., Flask]) -> tuple[FlaskClient, SpeechHotline]:
    """A client of the softphone, and the fake hotline its calls reach."""
    app, line = speaking_phone(make_app)
    return app.test_client(), line


def post(client: FlaskClient, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
    """POST JSON to the API; the JSON answer, its status checked."""
    response = client.post(API + path, json={} if body is None else body)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def dial(client: FlaskClient) -> dict[str, Any]:
    """Start a call; it waits at the speech menu."""
    return post(client, "/calls", {}, 201)


def test_a_call_at_a_speech_menu_says_it_listens(phone) -> None:
    client, _line = phone
    call = dial(client)
    assert call["waiting"]["speech"] is True and call["waiting"]["keys"] is True
    assert call["waiting"]["hints"] == HINTS.split(",")


def test_say_posts_the_words_and_returns_the_said_turn(phone) -> None:
    client, line = phone
    call = dial(client)
    answer = post(client, f"/calls/{call['id']}/say", {"text": "我想查医保余额", "confidence": 0.8})
    kinds = [turn["kind"] for turn in answer["turns"]]
    assert kinds[:2] == ["said", "request"] and "heard" in kinds
    assert answer["turns"][0] == {"kind": "said", "text": "我想查医保余额", "confidence": 0.8}
    assert answer["turns"][1]["form"]["SpeechResult"] == "我想查医保余额"
    assert answer["turns"][1]["form"]["Confidence"] == "0.8"
    assert "Digits" not in answer["turns"][1]["form"]
    assert any(ASK_PIN in turn.get("text", "") for turn in answer["turns"])
    assert answer["waiting"]["speech"] is False and answer["waiting"]["hints"] == []
    posted = line.forms("/voice/menu")[0]
    assert posted["SpeechResult"] == "我想查医保余额" and posted["CallSid"] == call["id"]
    # The saved call keeps the said turn for the next GET, on any worker.
    shown = client.get(f"{API}/calls/{call['id']}").get_json()
    assert {"kind": "said", "text": "我想查医保余额", "confidence": 0.8} in shown["turns"]


def test_the_default_confidence_is_point_nine(phone) -> None:
    client, line = phone
    call = dial(client)
    answer = post(client, f"/calls/{call['id']}/say", {"text": "医保余额"})
    assert answer["turns"][0]["confidence"] == 0.9
    assert line.forms("/voice/menu")[0]["Confidence"] == "0.9"


def test_say_at_a_keys_only_prompt_is_409_and_the_call_goes_on(phone) -> None:
    client, line = phone
    call = dial(client)
    post(client, f"/calls/{call['id']}/keys", {"keys": "1"})
    refused = post(client, f"/calls/{call['id']}/say", {"text": "一三五七九零"}, 409)
    assert refused["error"] == (
        'cannot say: the hotline\'s <Gather> at this point takes keys only (input="dtmf")'
    )
    shown = client.get(f"{API}/calls/{call['id']}").get_json()
    assert shown["ended"] is False and shown["waiting"]["speech"] is False
    assert not any(turn["kind"] == "said" for turn in shown["turns"])
    assert line.forms("/voice/pin") == []  # nothing reached the hotline
    post(client, f"/calls/{call['id']}/keys", {"keys": "135790"})
    assert len(line.forms("/voice/pin")) == 1


def test_keys_at_a_speech_only_prompt_are_409(phone) -> None:
    client, _line = phone
    call = dial(client)
    answer = post(client, f"/calls/{call['id']}/keys", {"keys": "9"})
    assert any(ASK_NAME in turn.get("text", "") for turn in answer["turns"])
    assert answer["waiting"]["keys"] is False
    refused = post(client, f"/calls/{call['id']}/keys", {"keys": "1"}, 409)
    assert 'listens for speech only (input="speech")' in refused["error"]
    ended = post(client, f"/calls/{call['id']}/say", {"text": "王建国"})
    assert ended["ended"] is True and ended["end_state"] == "hangup"


def test_digits_said_aloud_are_masked_in_every_answer(phone) -> None:
    client, line = phone
    call = dial(client)
    answer = post(client, f"/calls/{call['id']}/say", {"text": "我的密码是135790"})
    assert line.forms("/voice/menu")[0]["SpeechResult"] == "我的密码是135790"
    shown = client.get(f"{API}/calls/{call['id']}").get_data(as_text=True)
    assert "135790" not in str(answer) and "135790" not in shown


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, '"text" must be the words said'),
        ({"text": 5}, '"text" must be the words said'),
        ({"text": ""}, "cannot say that: say what? the text is empty"),
        ({"text": "  "}, "cannot say that: say what?"),
        ({"text": "医保\n余额"}, "control or format characters"),
        ({"text": "额" * 201}, "say at most 200 characters"),
        ({"text": "医保余额", "confidence": 1.2}, "confidence must be a number from 0 to 1"),
        ({"text": "医保余额", "confidence": "0.9"}, "confidence must be a number from 0 to 1"),
        ({"text": "医保余额", "confidence": True}, "confidence must be a number from 0 to 1"),
        ({"text": "医保余额", "confidence": None}, "confidence must be a number from 0 to 1"),
    ],
)
def test_a_bad_body_is_400_and_sends_nothing(phone, body: dict[str, Any], error: str) -> None:
    client, line = phone
    call = dial(client)
    refused = post(client, f"/calls/{call['id']}/say", body, 400)
    assert error in refused["error"]
    assert line.forms("/voice/menu") == []


def test_say_on_an_unknown_or_ended_call(phone) -> None:
    client, _line = phone
    assert "no softphone call" in post(client, "/calls/CA" + "0" * 32 + "/say",
                                       {"text": "医保余额"}, 404)["error"]  # fmt: skip
    call = dial(client)
    post(client, f"/calls/{call['id']}/hangup")
    refused = post(client, f"/calls/{call['id']}/say", {"text": "医保余额"}, 409)
    assert "the call has ended" in refused["error"]


@pytest.mark.parametrize(
    ("headers", "content_type"),
    [
        ({"Origin": "http://evil.example"}, "application/json"),  # another site's page
        ({}, "text/plain"),  # a simple request, with no CORS preflight
        ({"Host": "evil.example:8000"}, "application/json"),  # a rebound name
    ],
)
def test_the_local_guards_apply_to_say(phone, headers: dict[str, str], content_type: str) -> None:
    client, line = phone
    call = dial(client)
    response = client.post(f"{API}/calls/{call['id']}/say", data='{"text": "医保余额"}',
                           headers=headers, content_type=content_type)  # fmt: skip
    assert response.status_code == 404
    assert line.forms("/voice/menu") == []
