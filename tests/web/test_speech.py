"""Speech navigation at the webhook: listening Gathers as Twilio reads them, SpeechResult and
Confidence at the Gather's action, keys only at ID and PIN prompts, nothing said ever kept,
IVR_VOICE_INPUT=off and `speech: false` as before, the fallback and play mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.config import PROJECT_ROOT
from ivr.core.trace import TRACE_HEADER
from ivr.sim.twiml_check import TwimlChecker
from ivr.web.request import confidence
from store.import_apply import import_data
from store.models import Call, CallEvent
from tests.twiml_helpers import Twiml
from tests.web.lines import (
    BASE,
    ID_STAR,
    PIN,
    Line,
    MakeLine,
    node_of,
    post,
    prompt,
    read,
    twilio_form,
)

BALANCE = "一千二百三十四元五角六分"  # 王建国's demo balance
PROMPTS = PROJECT_ROOT / "prompts"


def say(line: Line, text: str, sure: str = "0.87") -> Twiml:
    """Say something into the waiting Gather, as Twilio posts it: SpeechResult, Confidence."""
    assert line.action is not None, "the call is not waiting at a Gather"
    return line.post(line.action, SpeechResult=text, Confidence=sure)


def trace(line: Line) -> str:
    """The last answer's X-IVR-Trace."""
    return line.answers[-1].headers[TRACE_HEADER]


def test_a_listening_menu_asks_twilio_for_keys_and_speech(make_line: MakeLine) -> None:
    line = make_line()
    doc = line.dial()
    gather = doc.gather
    assert gather is not None
    assert gather.get("input") == "dtmf speech" and gather.get("language") == "cmn-Hans-CN"
    assert (gather.get("speechTimeout"), gather.get("speechModel")) == ("auto", "phone_call")
    hints = gather.get("hints", "").split(", ")
    assert {"医保余额", "家庭共济", "转人工", "重听", "社会保险"} <= set(hints)
    assert gather.get("numDigits") == "1"  # and keys as before
    # The welcome tells the caller once that they may say what they need.
    assert doc.says[1] == prompt(line.app, "speech_hint")
    assert prompt(line.app, "speech_hint") not in line.press("*").says


def test_in_english_the_gather_listens_in_english(make_line: MakeLine) -> None:
    line = make_line()
    line.dial()
    doc = line.press("9")
    gather = doc.gather
    assert gather is not None and gather.get("language") == "en-US"
    assert "account balance" in gather.get("hints", "") and "余额" not in gather.get("hints", "")


@pytest.mark.parametrize("node", ["ask_id", "ask_pin"])
def test_id_and_pin_gathers_take_keys_only(make_line: MakeLine, node: str) -> None:
    doc = make_line().to(node)
    gather = doc.gather
    assert gather is not None and gather.get("input") == "dtmf"
    assert not {"language", "hints", "speechTimeout", "speechModel"} & set(gather.keys())


def test_a_deep_link_goes_through_the_identity_check_straight_to_the_balance(
    make_line: MakeLine,
) -> None:
    line = make_line()
    line.dial()
    doc = say(line, "我想查医保余额")
    assert node_of(line.action) == "ask_id"
    assert trace(line) == "main:say+->+balance, balance:identity+gate, ask_id"
    assert doc.says[0] == prompt(line.app, "ask_id")
    line.press(ID_STAR)
    doc = line.press(PIN)
    assert BALANCE in " ".join(doc.says)  # read at once: the medical menu never came between
    assert "ask_pin:input" in trace(line) and "medical, " not in trace(line).split("balance")[0]


def test_a_homophone_slip_and_the_agent_from_a_submenu(make_line: MakeLine) -> None:
    line = make_line()
    line.verified()
    doc = say(line, "家庭供给")  # 供给 heard for 共济
    assert "medical:say+->+family" in trace(line) and node_of(line.action) == "medical"
    assert doc.says  # the bindings were read, then the menu again
    say(line, "转人工", "0.95")
    assert "medical:say+->+agent" in trace(line)


@pytest.mark.parametrize(
    ("text", "sure"),
    [("余额", "0.2"), ("今天天气不错", "0.9"), ("余额还是共济", "0.9"), ("余额", "high"),
     ("余额", "NaN"), ("余额", "")],
    ids=["low-confidence", "no-match", "tie", "confidence-not-a-number", "nan", "no-confidence"],
)  # fmt: skip
def test_not_understood_is_asked_again(make_line: MakeLine, text: str, sure: str) -> None:
    line = make_line()
    line.dial()
    doc = say(line, text, sure)
    assert line.answers[-1].status_code == 200 and node_of(line.action) == "main"
    assert doc.says[0] == prompt(line.app, "speech_unclear")
    assert trace(line) == "main:invalid+key"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.87", 0.87), ("1", 1.0), ("0", 0.0), (" 0.5 ", 0.5), ("1.01", 0.0), ("-0.1", 0.0),
     ("nan", 0.0), ("inf", 0.0), ("", 0.0), ("0,9", 0.0), ("9" * 5000, 0.0)],
)  # fmt: skip
def test_confidence_is_a_number_from_0_to_1_or_none(value: str, expected: float) -> None:
    assert confidence(value) == expected


@pytest.mark.parametrize("node", ["ask_id", "ask_pin"])
def test_speech_at_an_id_or_pin_prompt_is_an_invalid_entry_and_is_never_kept(
    make_line: MakeLine, node: str
) -> None:
    line = make_line()
    line.to(node)
    spoken = "一三五七九零" if node == "ask_pin" else "六五零一零二一九六八"
    doc = say(line, spoken, "0.99")
    assert node_of(line.action) == node and trace(line) == f"{node}:invalid+key"
    assert doc.says[0] == prompt(line.app, "speech_keys_only")
    with line.app.extensions["ivr"].sessions() as session:
        events = session.scalars(select(CallEvent).where(CallEvent.call_sid == line.call_sid))
        rows = [(e.input_masked or "", e.outcome or "") for e in events]
        call = session.get(Call, line.call_sid)
        assert call is not None and not call.verified and spoken not in (call.last_answer or "")
    assert rows and all(spoken not in field for row in rows for field in row)
    assert rows[-1][0] == ""  # no input kept for a step that was said


def test_three_times_said_at_the_pin_prompt_is_the_invalid_limit(make_line: MakeLine) -> None:
    line = make_line()
    line.to("ask_pin")
    for _ in range(2):
        say(line, "一三五七九零")
    doc = say(line, "一三五七九零")
    assert "ask_pin:invalid+limit" in trace(line)
    assert doc.verbs[-1] in ("Hangup", "Enqueue", "Redirect", "Gather", "Dial")


def keypad_only(folder: Path) -> Path:
    """The 12333 menu as it was before speech: no `speech:`, no phrases, no hint."""
    lines = []
    for text in (PROMPTS / "12333.yaml").read_text(encoding="utf-8").splitlines():
        if text.lstrip().startswith(
            ("say:", "speech:", "confidence:", "repeat:", "prompt: speech_hint")
        ):
            continue
        lines.append(text.replace("[welcome, speech_hint]", "welcome"))
    path = folder / "12333.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in ("zh-CN.yaml", "en-US.yaml"):
        (folder / name).write_text((PROMPTS / name).read_text(encoding="utf-8"), encoding="utf-8")
    return path


def walk(app: Flask, checker: TwimlChecker, call_sid: str) -> list[bytes]:
    """The TwiML of a call that keys its way through every kind of node."""
    line = Line(app, checker, call_sid)
    line.dial()
    for keys in ("*", "7", "9", "9", "2", ID_STAR, PIN, "1", "2", "#", "1", "0"):
        line.press(keys)
    return [answer.data.replace(call_sid.encode(), b"") for answer in line.answers]


@pytest.mark.parametrize("how", ["IVR_VOICE_INPUT=off", "speech: false"])
def test_speech_off_gives_the_keypad_twiml_byte_for_byte(
    make_app: Callable[..., Flask], demo_prepared, twiml_checker: TwimlChecker, tmp_path: Path,
    how: str,
) -> None:  # fmt: skip
    """Both ways of turning it off give exactly the TwiML of the menu before speech."""
    before = make_app(IVR_MENU=str(keypad_only(tmp_path)))
    if how == "speech: false":
        text = (PROMPTS / "12333.yaml").read_text(encoding="utf-8")
        start = text.index("speech:")
        end = text.index("nodes:")
        off_menu = tmp_path / "off.yaml"
        off_menu.write_text(text[:start] + "speech: false\n" + text[end:], encoding="utf-8")
        off = make_app(IVR_MENU=str(off_menu))
    else:
        off = make_app(IVR_VOICE_INPUT="off")
    with before.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    expected = walk(before, twiml_checker, "CAbefore0001")
    assert b"speech" not in b"".join(expected)
    assert walk(off, twiml_checker, "CAoff00000001") == expected


def test_a_bad_voice_input_setting_stops_the_start(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(Exception, match="IVR_VOICE_INPUT"):
        make_app(IVR_VOICE_INPUT="maybe")


def test_a_lost_speech_answer_is_answered_again_at_the_fallback(
    make_line: MakeLine, twiml_checker: TwimlChecker
) -> None:
    line = make_line()
    line.verified()
    action = line.action
    assert action is not None
    answered = say(line, "查一下余额")  # it committed; say Twilio never got the answer
    fields = {"SpeechResult": "查一下余额", "Confidence": "0.87", "ErrorCode": "11205",
              "ErrorUrl": urljoin(BASE, action)}  # fmt: skip
    again = read(post(line.app, "/voice/fallback", twilio_form(line.call_sid, **fields)),
                 twiml_checker)  # fmt: skip
    assert again.says == answered.says and BALANCE in " ".join(again.says)


def test_a_speech_step_that_never_committed_is_taken_at_the_fallback(
    make_line: MakeLine, twiml_checker: TwimlChecker
) -> None:
    line = make_line()
    line.dial()
    fields = {"SpeechResult": "人工服务", "Confidence": "0.9", "ErrorCode": "11205",
              "ErrorUrl": urljoin(BASE, line.action or "")}  # fmt: skip
    response = post(line.app, "/voice/fallback", twilio_form(line.call_sid, **fields))
    read(response, twiml_checker)
    assert "main:say+->+agent" in response.headers[TRACE_HEADER]


def test_play_mode_plays_the_speech_prompts(play_app: Flask, twiml_checker: TwimlChecker) -> None:
    line = Line(play_app, twiml_checker, "CAplayspeech01")
    doc = line.dial()
    assert doc.says == [] and len(doc.root.findall(".//Play")) == 4  # welcome, hint, menu, offer
    doc = say(line, "天气", "0.9")
    assert doc.says == [] and doc.gather is not None and doc.gather.get("input") == "dtmf speech"
