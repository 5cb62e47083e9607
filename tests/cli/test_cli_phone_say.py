"""`call`'s `say WORDS [@CONFIDENCE]`: speech into a Gather that listens for it, against the
hand-made speech hotline (tests/speech_hotline.py), in-process and over HTTP with --url."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from rich.console import Console

from ivr.cli.phone import PhoneSession, call_command
from ivr.qa.load import load_script
from ivr.qa.model import StepKind
from ivr.qa.record import dump_script
from ivr.sim.caller import Caller, FlaskTransport
from ivr.sim.turns import EndState
from tests.servers import served
from tests.speech_hotline import (
    ASK_NAME,
    ASK_PIN,
    CONFIRM,
    GOODBYE,
    NOT_UNDERSTOOD,
    SpeechHotline,
    speech_hotline,
)


def session() -> tuple[PhoneSession, io.StringIO, SpeechHotline]:
    """A phone session on the fake speech hotline, printing to a string."""
    line, out = speech_hotline(), io.StringIO()
    caller = Caller(FlaskTransport(line.app))
    return PhoneSession(caller, Console(file=out, width=200)), out, line


def test_say_speaks_into_the_menu_and_echoes_what_was_said() -> None:
    phone, out, line = session()
    phone.run(["say 医保余额 @0.4", "135790", "1"])
    shown = out.getvalue()
    assert "you   ▸ say 医保余额 (0.40)" in shown and ASK_PIN in shown and GOODBYE in shown
    posted = line.forms("/voice/menu")[0]
    assert (posted["SpeechResult"], posted["Confidence"]) == ("医保余额", "0.4")
    assert "Digits" not in posted
    assert "135790" not in shown and phone.caller.end_state == EndState.HANGUP


@pytest.mark.parametrize(
    ("typed", "text", "confidence"),
    [
        ("say 医保余额", "医保余额", "0.9"),
        ("SAY   人工 服务  ", "人工 服务", "0.9"),
        ("say 医保余额@1", "医保余额", "1.0"),
        ("say 医保余额 @ 0.25", "医保余额", "0.25"),
        ("say 医保余额 @", None, None),
    ],
)
def test_say_lines(typed: str, text: str | None, confidence: str | None) -> None:
    phone, out, line = session()
    phone.run([typed, "h"])
    forms = line.forms("/voice/menu")
    if text is None:
        assert forms == [] and "Not said: after @ comes the confidence" in out.getvalue()
    else:
        assert [(f["SpeechResult"], f["Confidence"]) for f in forms] == [(text, confidence)]


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("say", "Not said: say what? the text is empty."),
        ("say @0.5", "Not said: say what? the text is empty."),
        ("say 医保余额 @1.5", "Not said: confidence must be a number from 0 to 1, got 1.5."),
        ("say 医保余额 @high", "Not said: after @ comes the confidence, 0 to 1, not 'high'."),
        ("say 医保余额 @nan", "Not said: confidence must be a number from 0 to 1, got nan."),
    ],
)
def test_a_bad_say_line_gets_a_hint_and_sends_nothing(typed: str, hint: str) -> None:
    phone, out, line = session()
    phone.run([typed, "h"])
    assert hint in out.getvalue() and len(line.seen) == 1  # only the dial
    assert phone.caller.end_state == EndState.CALLER_HANGUP


def test_saying_at_a_keys_only_prompt_is_a_hint_and_the_call_goes_on() -> None:
    phone, out, line = session()
    phone.run(["1", "say 一三五七九零", "135790", "1"])
    shown = out.getvalue()
    assert ('Not said: the hotline\'s <Gather> at this point takes keys only (input="dtmf").'
            in shown)  # fmt: skip
    assert line.forms("/voice/pin")[0]["Digits"] == "135790" and CONFIRM in shown
    assert phone.error is None and phone.caller.end_state == EndState.HANGUP


def test_keys_at_a_speech_only_prompt_are_a_hint_and_the_call_goes_on() -> None:
    phone, out, _line = session()
    phone.run(["9", "1234", "say 王建国"])
    shown = out.getvalue()
    assert ASK_NAME in shown and "Not keyed: the hotline's <Gather> at this point listens" in shown
    assert "1234" not in shown and phone.caller.end_state == EndState.HANGUP


def test_a_recorded_call_replays_its_say_steps(tmp_path: Path) -> None:
    phone, _out, _line = session()
    phone.run(["say 天气 @0.3", "say 医保余额", "135790", "1"])
    script = phone.recording.document("spoken", "+8613800138000", phone.caller.end_state)
    assert script["steps"][1] == {"say": "天气", "confidence": 0.3}
    assert script["steps"][3] == {"say": "医保余额"}
    path = tmp_path / "spoken.yaml"
    path.write_text(dump_script(script), encoding="utf-8")
    steps = load_script(path, {"PIN": "135790"}).steps
    assert [s.kind for s in steps].count(StepKind.SAY) == 2
    assert NOT_UNDERSTOOD[:4] in str(script["steps"][2])  # heard after the first say


def test_help_mentions_say(app: Flask) -> None:
    phone, out, _line = session()
    phone.run(["?", "h"])
    assert "say WORDS = speak instead" in out.getvalue() and "@0.4" in out.getvalue()


def test_the_command_says_over_http_and_prompts_for_speech(app: Flask) -> None:
    line = speech_hotline()
    app.cli.add_command(call_command)
    with served(line.app) as base:
        result = app.test_cli_runner().invoke(
            args=["call", "--url", base], input="say 我想查医保余额 @0.8\n135790\n1\n"
        )
    assert result.exit_code == 0, result.output
    assert "keys or say> " in result.output and "you   ▸ say 我想查医保余额 (0.80)" in result.output
    assert "keys> " in result.output  # the PIN prompt takes keys only
    posted = line.forms("/voice/menu")[0]
    assert (posted["SpeechResult"], posted["Confidence"]) == ("我想查医保余额", "0.8")


def test_the_real_hotline_listens_at_its_menus_and_not_at_the_id_prompt(make_caller) -> None:
    out = io.StringIO()
    phone = PhoneSession(make_caller(), Console(file=out, width=200))
    phone.run(["say 医疗保险", "say 一二三"])
    shown = out.getvalue()
    assert "you   ▸ say 医疗保险 (0.90)" in shown and "十八位身份证号码" in shown
    assert "takes keys only" in shown  # the ID prompt: a hint, and the call goes on
