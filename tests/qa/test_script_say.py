"""The `say` step of call scripts: its format and errors, its run against a hotline that
listens for speech (tests/speech_hotline.py), and how every report shows it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from textwrap import dedent

import pytest

from ivr.config import SETTINGS
from ivr.core.events import Took
from ivr.menu.load import load_menu
from ivr.qa.coverage import Coverage, PathItem, coverage
from ivr.qa.load import ScriptError, load_script
from ivr.qa.model import Outcome, ScriptResult, Step, StepKind
from ivr.qa.record import Recording, dump_script
from ivr.qa.report import write_html, write_json, write_junit
from ivr.qa.run import run_script
from ivr.qa.text import transcript_text
from ivr.sim.caller import Caller, FlaskTransport, Turn, TurnKind
from ivr.sim.turns import EndState
from tests.speech_hotline import ASK_PIN, CONFIRM, NOT_UNDERSTOOD, WELCOME, speech_hotline

HEAD = 'name: t\nsteps:\n  - expect: 欢迎\n  - press: "2"\n'  # a broken step is on line 5

SPOKEN = f"""\
name: 说出医保余额
vars: {{PIN: "135790", WHAT: 余额}}
steps:
  - expect: {WELCOME[:4]}
  - say: 今天天气怎么样
    confidence: 0.31
  - expect: {NOT_UNDERSTOOD}
  - say: 我想查医保${{WHAT}}
  - expect: {ASK_PIN}
  - press: "${{PIN}}"
  - expect: {CONFIRM}
  - press: "1"
expect_end: hangup
"""


def write(folder: Path, text: str) -> Path:
    """A script file holding `text`."""
    path = folder / "script.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return path


def run(folder: Path, text: str) -> tuple[ScriptResult, list[dict[str, str]]]:
    """Load and run a script on the fake speech hotline; the result and what it received."""
    line = speech_hotline()
    caller = Caller(FlaskTransport(line.app))
    return run_script(load_script(write(folder, text)), caller), line.seen


def test_say_steps_parse_with_their_confidence_and_variables(tmp_path: Path) -> None:
    script = load_script(write(tmp_path, SPOKEN))
    says = [s for s in script.steps if s.kind == StepKind.SAY]
    assert says == [
        Step(StepKind.SAY, 5, text="今天天气怎么样", confidence=0.31),
        Step(StepKind.SAY, 8, text="我想查医保余额", confidence=0.9),  # the default
    ]
    assert [s.describe() for s in says] == [
        "say '今天天气怎么样' (0.31)",
        "say '我想查医保余额' (0.90)",
    ]


@pytest.mark.parametrize(
    ("step", "text", "confidence"),
    [
        ("  - say: 2\n", "2", 0.9),  # as written: a caller may say a number
        ('  - say: "  人工服务 "\n', "人工服务", 0.9),
        ("  - say: 医保余额\n    confidence: 1\n", "医保余额", 1.0),
        ("  - say: 医保余额\n    confidence: 0\n", "医保余额", 0.0),
        ("  - confidence: .5\n    say: 医保余额\n", "医保余额", 0.5),
        ("  - {say: 医保余额, confidence: 0.25}\n", "医保余额", 0.25),
    ],
)
def test_say_as_written(tmp_path: Path, step: str, text: str, confidence: float) -> None:
    (last,) = load_script(write(tmp_path, HEAD + step)).steps[-1:]
    assert (last.kind, last.line, last.text, last.confidence) == (StepKind.SAY, 5, text, confidence)


BROKEN = [
    # (the step, its line, the reason after "FILE:LINE: ")
    ("  - say\n", 5, "say needs a value, e.g. - say: 医保余额"),
    ("  - say:\n", 5, "say: expected the words the caller says, e.g. - say: 医保余额"),
    ('  - say: ""\n', 5, "say: expected the words the caller says"),
    ('  - say: "   "\n', 5, "say: expected the words the caller says"),
    ("  - say: [医保, 余额]\n", 5, "say: expected the words the caller says"),
    ("  - say: {text: 医保余额}\n", 5, "say: expected the words the caller says"),
    ('  - say: "${NOBODY}"\n', 5, "say: unknown variable ${NOBODY}"),
    ('  - say: "医保\\t余额"\n', 5, "say: the text holds control or format characters"),
    ("  - say: " + "额" * 201 + "\n", 5, "say: say at most 200 characters, got 201"),
    ("  - say: 医保余额\n    confidence: 1.5\n", 6, "confidence: expected a number from 0 to 1"),
    ("  - say: 医保余额\n    confidence: -0.1\n", 6, "confidence: expected a number from 0 to 1"),
    ('  - say: 医保余额\n    confidence: "0.9"\n', 6, "confidence: expected a number from 0 to 1,"
                                                    " e.g. confidence: 0.42, got '0.9'"),
    ("  - say: 医保余额\n    confidence: high\n", 6, "confidence: expected a number"),
    ("  - say: 医保余额\n    confidence: true\n", 6, "confidence: expected a number"),
    ("  - say: 医保余额\n    confidence: .nan\n", 6, "confidence: expected a number"),
    ("  - say: 医保余额\n    confidence:\n", 6, "confidence: expected a number"),
    ("  - confidence: 0.5\n", 5, "confidence goes with a say step: - say: 医保余额"),
    ("  - say: 医保余额\n    expect: 请\n", 5, "one step has one key (a say step may add"
                                               " confidence), found say, expect"),
    ('  - press: "1"\n    confidence: 0.5\n', 5, "confidence goes with a say step"),
    ("  - sya: 医保余额\n", 5, "unknown step 'sya'; did you mean 'say'?"),
]  # fmt: skip


@pytest.mark.parametrize(("step", "line", "reason"), BROKEN)
def test_broken_say_steps_name_file_line_and_reason(
    tmp_path: Path, step: str, line: int, reason: str
) -> None:
    path = write(tmp_path, HEAD + step)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: {reason}"), message
    assert "\n" not in message


def test_a_spoken_call_passes_and_posts_speech(tmp_path: Path) -> None:
    result, seen = run(tmp_path, SPOKEN)
    assert result.outcome == Outcome.PASSED, result.failure
    menu = [s for s in seen if s["_path"] == "/voice/menu"]
    assert [(s.get("SpeechResult"), s.get("Confidence"), s.get("Digits")) for s in menu] == [
        ("今天天气怎么样", "0.31", None), ("我想查医保余额", "0.9", None)]  # fmt: skip
    said = [step for step in result.steps if step.step.kind == StepKind.SAY]
    assert NOT_UNDERSTOOD in said[0].heard and ASK_PIN in said[1].heard
    assert said[0].elapsed_ms is not None


def test_saying_at_a_keys_only_gather_fails_the_step(tmp_path: Path) -> None:
    script = HEAD.replace('press: "2"', "say: 医保余额") + "  - say: 一三五七九零\n  - hangup\n"
    result, seen = run(tmp_path, script)
    assert result.outcome == Outcome.FAILED
    assert result.failure == (
        "line 5: say '******' (0.90): the hotline's <Gather> at this point takes keys only"
        ' (input="dtmf")'
    )
    assert not result.steps[-1].ok and result.steps[-1].step.line == 5
    assert [s["_path"] for s in seen].count("/voice/pin") == 0  # nothing was posted
    assert result.end_state == EndState.CALLER_HANGUP  # the runner hung up the waiting call
    assert "failed at line 5: say" in transcript_text(result)


def test_pressing_at_a_speech_only_gather_fails_the_step(tmp_path: Path) -> None:
    result, _seen = run(tmp_path, 'steps:\n  - press: "9"\n  - press: "1"\n')
    assert result.outcome == Outcome.FAILED
    assert result.failure.startswith("line 3: press 1: the hotline's <Gather> at this point"
                                     ' listens for speech only (input="speech")')  # fmt: skip


@pytest.fixture
def spoken(tmp_path: Path) -> ScriptResult:
    """The spoken call's result."""
    return run(tmp_path, SPOKEN)[0]


def test_the_text_transcript_shows_what_was_said(spoken: ScriptResult) -> None:
    lines = transcript_text(spoken).splitlines()
    assert "caller: say 今天天气怎么样 (0.31)" in lines
    assert "caller: say 我想查医保余额 (0.90)" in lines
    assert "caller: press ******" in lines  # keys stay masked beside it
    assert lines.index("caller: say 我想查医保余额 (0.90)") < lines.index("caller: press ******")


def test_every_report_shows_what_was_said(spoken: ScriptResult, tmp_path: Path) -> None:
    write_html([spoken], None, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<p class="caller said">say <q>我想查医保余额</q><small>0.90</small></p>' in page
    write_json([spoken], None, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["scripts"][0]
    assert "caller: say 今天天气怎么样 (0.31)" in data["transcript"]
    assert {"line": 5, "step": "say '今天天气怎么样' (0.31)"}.items() <= data["steps"][1].items()
    write_junit([spoken], tmp_path / "r.xml")
    out = ET.parse(tmp_path / "r.xml").getroot().find("testsuite/testcase/system-out")
    assert out is not None and "caller: say 我想查医保余额 (0.90)" in (out.text or "")
    for report in ("r.html", "r.json", "r.xml"):
        assert "135790" not in (tmp_path / report).read_text(encoding="utf-8")


def test_digits_said_aloud_stay_masked_in_reports(tmp_path: Path) -> None:
    result, seen = run(tmp_path, 'steps:\n  - say: "我的密码是135790"\n')
    assert seen[1]["SpeechResult"] == "我的密码是135790"  # the hotline hears them
    text = transcript_text(result)
    assert "caller: say 我的密码是****** (0.90)" in text and "135790" not in text
    assert result.steps[0].step.describe() == "say '我的密码是******' (0.90)"


def test_coverage_counts_what_the_engine_declares_and_shows_any_path_name() -> None:
    """Speech paths count once the engine declares them (ivr.core.edges); coverage sums
    traces and never parses a path's name, so a path named for speech is shown as written."""
    menu = load_menu(SETTINGS["IVR_MENU"][0])
    traced = Turn(TurnKind.REQUEST, trace=(Took("main", "key 2 -> medical"),
                                           Took("main", "speech 医保 -> medical")))  # fmt: skip
    measured = coverage(menu, [[traced]])
    assert measured.hits("main", "key 2 -> medical") == 1
    assert measured.hits("main", "speech 医保 -> medical") == 0  # not declared (yet)
    shown = Coverage({"main": 1}, (PathItem("main", "speech 医保余额 -> balance", 0),))
    assert [(i.node, i.path) for i in shown.missed_paths()] == [
        ("main", "speech 医保余额 -> balance")]  # fmt: skip


def test_a_terminal_call_records_say_steps_that_load_again(tmp_path: Path) -> None:
    recording = Recording()
    recording.say("医保余额", 0.9)
    recording.say("我的密码是135790", 0.42)
    recording.press("135790")
    text = dump_script(recording.document("spoken", "+8613800138000", EndState.HANGUP))
    assert "135790" not in text and recording.variables == ["PIN"]
    path = write(tmp_path, text)
    steps = load_script(path, {"PIN": "135790"}).steps
    assert [(s.kind, s.text, s.confidence) for s in steps[:2]] == [
        (StepKind.SAY, "医保余额", 0.9), (StepKind.SAY, "我的密码是135790", 0.42)]  # fmt: skip
    assert steps[2].keys == "135790"
