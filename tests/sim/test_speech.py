"""Speech into a `<Gather input="dtmf speech">`: the simulator posts SpeechResult and
Confidence as Twilio does, and refuses speech at a Gather that only takes keys."""

from __future__ import annotations

import math

import pytest
from lxml import etree

from ivr.core.events import Reached, Took
from ivr.sim.caller import Caller, FlaskTransport, HttpTransport, SimulatorError, TurnKind
from ivr.sim.speech import (
    NotListening,
    check_said,
    confidence_text,
    mask_said,
    speech_params,
)
from ivr.sim.state import restore, snapshot
from ivr.sim.turns import GatherSpec
from tests.servers import served
from tests.speech_hotline import (
    ASK_NAME,
    ASK_PIN,
    CONFIRM,
    NOT_UNDERSTOOD,
    speech_hotline,
)

TWILIO_FIELDS = {"CallSid", "AccountSid", "From", "To", "Caller", "Called", "CallStatus",
                 "Direction", "ApiVersion"}  # fmt: skip


def dialled() -> tuple[Caller, object]:
    """A caller waiting at the fake hotline's speech menu."""
    line = speech_hotline()
    caller = Caller(FlaskTransport(line.app), from_="+8613900000001")
    caller.dial()
    return caller, line


def test_say_posts_speech_result_and_confidence_to_the_gathers_action() -> None:
    caller, line = dialled()
    heard = caller.say("我想查医保余额", 0.87)
    assert ASK_PIN in heard
    (posted,) = line.forms("/voice/menu")
    assert posted["SpeechResult"] == "我想查医保余额" and posted["Confidence"] == "0.87"
    assert "Digits" not in posted and "FinishedOnKey" not in posted
    assert TWILIO_FIELDS <= set(posted)
    assert posted["CallSid"] == caller.call_sid and posted["From"] == "+8613900000001"
    assert posted["CallStatus"] == "in-progress" and posted["_path"] == "/voice/menu"


def test_the_default_confidence_is_point_nine() -> None:
    caller, line = dialled()
    caller.say("医保余额")
    assert line.forms("/voice/menu")[0]["Confidence"] == "0.9"


def test_a_said_turn_and_the_request_are_in_the_transcript() -> None:
    caller, _line = dialled()
    caller.say("  医保余额  ", 0.5)
    said = [t for t in caller.transcript if t.kind == TurnKind.SAID]
    assert [(t.text, t.confidence) for t in said] == [("医保余额", 0.5)]
    request = caller.transcript[caller.transcript.index(said[0]) + 1]
    assert request.kind == TurnKind.REQUEST and request.form is not None
    assert request.form["SpeechResult"] == "医保余额"
    # The engine's trace comes back as for keys, speech paths named as the hotline names them.
    assert request.trace == (Took("main", "speech -> pin"), Reached("pin"))


def test_speech_at_a_keys_only_gather_fails_clearly_and_changes_nothing() -> None:
    caller, line = dialled()
    caller.say("医保余额")  # now at the PIN prompt: input="dtmf"
    before = (len(caller.transcript), caller.waiting, len(line.seen))
    with pytest.raises(NotListening, match=r'takes keys only \(input="dtmf"\)'):
        caller.say("一二三四五六")
    assert (len(caller.transcript), caller.waiting, len(line.seen)) == before
    caller.press("135790")  # the call goes on with keys
    assert CONFIRM in caller.text_since_last_input


def test_speech_at_a_gather_without_input_names_twilios_default() -> None:
    caller, _line = dialled()
    caller.press("1")
    caller.press("135790")  # the confirmation Gather has no input attribute
    with pytest.raises(NotListening, match='no input attribute, so "dtmf"'):
        caller.say("确认")


def test_keys_at_a_speech_only_gather_fail_clearly() -> None:
    caller, _line = dialled()
    assert ASK_NAME in caller.press("9")
    assert caller.waiting is not None and caller.waiting.takes_speech
    with pytest.raises(NotListening, match=r'listens for speech only \(input="speech"\)'):
        caller.press("1")
    assert caller.waiting is not None  # still waiting: the refusal changed nothing
    caller.say("王建国")
    assert caller.ended


def test_keys_typed_ahead_into_a_speech_only_gather_fail() -> None:
    caller, _line = dialled()
    with pytest.raises(NotListening, match="speech only"):
        caller.press("91")


def test_keys_still_work_at_a_speech_menu() -> None:
    caller, line = dialled()
    assert ASK_PIN in caller.press("1")
    posted = line.forms("/voice/menu")[0]
    assert posted["Digits"] == "1" and "SpeechResult" not in posted


def test_an_unrecognised_sentence_is_answered_as_the_hotline_chooses() -> None:
    caller, _line = dialled()
    assert NOT_UNDERSTOOD in caller.say("今天天气怎么样", 0.31)
    assert caller.waiting is not None and caller.waiting.takes_speech


@pytest.mark.parametrize(
    ("text", "confidence", "problem"),
    [
        ("", 0.9, "empty"),
        ("   ", 0.9, "empty"),
        ("医保余额", 1.5, "from 0 to 1"),
        ("医保余额", -0.1, "from 0 to 1"),
        ("医保余额", math.nan, "from 0 to 1"),
        ("医保余额", True, "from 0 to 1"),
        ("医保余额", "0.9", "from 0 to 1"),
        ("医保\n余额", 0.9, "control"),
        ("医保\u202e余额", 0.9, "control"),
        ("额" * 201, 0.9, "at most 200"),
    ],
)
def test_what_no_recogniser_returns_is_refused(text: str, confidence: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_said(text, confidence)  # type: ignore[arg-type]
    caller, line = dialled()
    with pytest.raises(ValueError, match=problem):
        caller.say(text, confidence)  # type: ignore[arg-type]
    assert caller.waiting is not None and len(line.seen) == 1


@pytest.mark.parametrize(
    ("confidence", "written"),
    [(0.9, "0.9"), (0.87, "0.87"), (0, "0.0"), (1, "1.0"), (0.912838643, "0.91283864"),
     (0.000000001, "0.0")],
)  # fmt: skip
def test_confidence_is_written_as_twilio_writes_it(confidence: float, written: str) -> None:
    assert confidence_text(confidence) == written
    assert speech_params("医保余额", confidence) == {"SpeechResult": "医保余额",
                                                     "Confidence": written}  # fmt: skip


def test_digits_spoken_aloud_are_masked_in_the_transcript_only() -> None:
    caller, line = dialled()
    caller.say("我的身份证是65010219680312109X")
    posted = line.forms("/voice/menu")[0]
    assert posted["SpeechResult"] == "我的身份证是65010219680312109X"  # the hotline hears it
    start = next(i for i, t in enumerate(caller.transcript) if t.kind == TurnKind.SAID)
    kept = caller.transcript[start:]
    assert kept[0].text == "我的身份证是**************109X"
    assert kept[1].form is not None and kept[1].form["SpeechResult"] == kept[0].text
    assert mask_said("按1") == "按1" and mask_said("密码135790") == "密码******"


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("医保余额", "医保余额"),
        ("按1", "按1"),
        ("密码135790", "密码******"),
        ("密码１３５７９０", "密码******"),
        ("密码是一三五七九零", "密码是******"),
        ("幺三五七九零", "******"),
        ("一二", "一二"),  # too short to be a number read out
        ("三十一岁", "三十一岁"),
        ("卡号650100017", "卡号*****0017"),
        ("65010219680312109X", "**************109X"),
    ],
)
def test_numbers_said_are_masked_by_shape(said: str, kept: str) -> None:
    assert mask_said(said) == kept


def test_a_saved_caller_keeps_its_speech_gather_and_said_turns() -> None:
    caller, line = dialled()
    caller.say("啥", 0.2)
    again = restore(snapshot(caller), FlaskTransport(line.app))
    assert again.waiting == caller.waiting and again.waiting is not None
    assert again.waiting.takes_speech and again.waiting.hints == "医保余额,人工服务"
    said = [t for t in again.transcript if t.kind == TurnKind.SAID]
    assert [(t.text, t.confidence) for t in said] == [("啥", 0.2)]
    again.say("医保余额")
    assert ASK_PIN in again.text_since_last_input


def test_a_caller_saved_before_speech_restores_as_keys_only() -> None:
    caller, line = dialled()
    data = snapshot(caller)
    for name in ("input", "hints"):
        del data["waiting"][name]
    again = restore(data, FlaskTransport(line.app))
    assert again.waiting is not None and not again.waiting.takes_speech
    with pytest.raises(SimulatorError, match="keys only"):
        again.say("医保余额")


@pytest.mark.parametrize(
    ("attribute", "keys", "speech"),
    [(None, True, False), ("dtmf", True, False), ("speech", False, True),
     ("dtmf speech", True, True), ("speech  dtmf", True, True), ("DTMF Speech", True, True)],
)  # fmt: skip
def test_the_gathers_input_attribute(attribute: str | None, keys: bool, speech: bool) -> None:
    verb = etree.Element("Gather", action="/next")
    if attribute is not None:
        verb.set("input", attribute)
    spec = GatherSpec.parse(verb, "http://localhost/voice")
    assert (spec.takes_keys, spec.takes_speech) == (keys, speech)


def test_say_over_http_carries_the_fields_urlencoded() -> None:
    line = speech_hotline()
    with served(line.app) as base:
        caller = Caller(HttpTransport(timeout=5), voice_url=f"{base}/voice")
        caller.dial()
        assert ASK_PIN in caller.say("医保余额", 0.75)
    posted = line.forms("/voice/menu")[0]
    assert (posted["SpeechResult"], posted["Confidence"]) == ("医保余额", "0.75")
