"""The reports of call-script runs, built from real calls on the demo hotline."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

import pytest
from flask import Flask, Response

from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.qa.coverage import Coverage, coverage
from ivr.qa.model import (
    Expectation,
    MatchKind,
    Outcome,
    Script,
    ScriptResult,
    Step,
    StepKind,
    StepResult,
)
from ivr.qa.report import (
    request_line,
    transcript_text,
    write_html,
    write_json,
    write_junit,
)
from ivr.sim.caller import Caller, WebhookError
from ivr.sim.turns import Turn, TurnKind

MENU = load_menu(SETTINGS["IVR_MENU"][0])
PIN = "135790"
ID_KEYED = "65010219680312109*"
GET_URL = f"https://h.example/ivr/voice/keys?node=ask_pin&seq=3&Digits={PIN}&CallSid=CA1"
INJECTED = "<script>alert('x')</script> & <img src=http://evil.example/x.png>"


def expect(line: int, text: str, kind: StepKind = StepKind.EXPECT) -> Step:
    """An expect step on a substring."""
    return Step(kind, line, expectation=Expectation(MatchKind.TEXT, (text,)))


def press(line: int, keys: str) -> Step:
    """A press step."""
    return Step(StepKind.PRESS, line, keys=keys)


BALANCE_STEPS = (
    expect(1, "欢迎致电"), press(2, "2"), press(3, ID_KEYED + "#"), press(4, PIN + "#"),
    press(5, "1"), expect(6, "一千二百三十四元五角六分"), expect(7, "王建国", StepKind.EXPECT_NOT),
    Step(StepKind.SILENCE, 8), Step(StepKind.HANGUP, 9),
)  # fmt: skip
WRONG_KEY_STEPS = (press(1, "5"), expect(2, "余额"), Step(StepKind.HANGUP, 3))


def play(caller: Caller, steps: Sequence[Step]) -> list[StepResult]:
    """Drive the caller through the steps as a runner would, and record what each did."""
    done: list[StepResult] = []
    for step in steps:
        mark = len(caller.transcript)
        if step.kind == StepKind.PRESS:
            caller.press(step.keys)
        elif step.kind == StepKind.SILENCE:
            caller.silence()
        elif step.kind == StepKind.HANGUP:
            caller.hangup()
        else:
            assert step.expectation is not None
            heard = caller.text_since_last_input
            ok = step.expectation.matches(heard) == (step.kind == StepKind.EXPECT)
            message = "" if ok else "not heard"
            done.append(StepResult(step, ok, heard=heard, message=message))
            continue
        times = [t.elapsed_ms for t in caller.transcript[mark:] if t.elapsed_ms is not None]
        done.append(StepResult(step, True, caller.text_since_last_input, max(times, default=None)))
    return done


def result(caller: Caller, name: str, path: str, steps: Sequence[Step]) -> ScriptResult:
    """A script run on a real call: passed unless a step failed."""
    caller.dial()
    done = play(caller, steps)
    failed = [s for s in done if not s.ok]
    return ScriptResult(
        script=Script(name, Path(path), "+8613800138000", ("smoke",), tuple(steps)),
        outcome=Outcome.FAILED if failed else Outcome.PASSED,
        steps=done,
        transcript=caller.transcript,
        end_state=caller.end_state,
        failure=f"line {failed[0].step.line}: {failed[0].step.describe()}: not heard"
        if failed
        else "",
        seconds=0.25,
        call_sid=caller.call_sid,
    )


@pytest.fixture
def results(make_caller: Callable[..., Caller]) -> list[ScriptResult]:
    """A passed balance call, a failed wrong-key call, and a call the hotline broke."""
    passed = result(make_caller(), "医保余额查询", "tests/calls/balance.yaml", BALANCE_STEPS)
    failed = result(make_caller(), "wrong key", "tests/calls/menu/wrong_key.yaml", WRONG_KEY_STEPS)
    failed.transcript.append(Turn(TurnKind.HEARD, INJECTED))
    broken_app = Flask("broken")
    broken_app.post("/voice")(lambda: Response("boom", status=500))
    broken = make_caller(broken_app)
    with pytest.raises(WebhookError):
        broken.dial()
    error = ScriptResult(
        script=Script("broken hotline", Path("tests/calls/broken.yaml"), "+86", (), ()),
        outcome=Outcome.ERROR,
        transcript=broken.transcript,
        failure="the hotline answered HTTP 500",
        seconds=0.5,
    )
    return [passed, failed, error]


@pytest.fixture
def measured(results: list[ScriptResult]) -> Coverage:
    """The coverage of the three calls."""
    return coverage(MENU, [r.transcript for r in results])


def test_junit_parses_with_counts_cases_and_transcripts(results, tmp_path: Path) -> None:
    write_junit(results, tmp_path / "junit.xml", suite="12333 scripts")
    root = ET.parse(tmp_path / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite is not None
    for element in (root, suite):
        assert {k: element.get(k) for k in ("name", "tests", "failures", "errors", "time")} == {
            "name": "12333 scripts", "tests": "3", "failures": "1", "errors": "1",
            "time": "1.000",
        }  # fmt: skip
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("balance", "医保余额查询"), ("wrong_key", "wrong key"), ("broken", "broken hotline"),
    ]  # fmt: skip
    assert [c.find("failure") is not None for c in cases] == [False, True, False]
    assert [c.find("error") is not None for c in cases] == [False, False, True]
    assert cases[1].find("failure").get("message") == "line 2: expect '余额': not heard"
    assert cases[2].find("error").get("message") == "the hotline answered HTTP 500"
    out = cases[0].findtext("system-out")
    assert "hotline: 欢迎致电" in out and "caller: press 2" in out
    assert "caller: (silence)" in out and "  POST /voice/keys?node=main&seq=1 200 " in out
    assert INJECTED in cases[1].findtext("system-out")  # XML escapes it; the parser restores
    assert "POST /voice 500" in cases[2].findtext("system-out")


def test_junit_survives_characters_xml_cannot_carry(results, tmp_path: Path) -> None:
    results[0].transcript.append(Turn(TurnKind.HEARD, "bell\x07 nul\x00 end"))
    write_junit(results[:1], tmp_path / "junit.xml")
    out = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite/testcase/system-out")
    assert "hotline: bell\ufffd nul\ufffd end" in out.text


@pytest.mark.parametrize(
    ("turn", "line"),
    [
        (Turn(TurnKind.HEARD, "请按一"), "hotline: 请按一"),
        (Turn(TurnKind.PRESSED, "******#"), "caller: press ******#"),
        (Turn(TurnKind.SILENCE), "caller: (silence)"),
        (Turn(TurnKind.REQUEST, url="http://localhost/voice/keys?node=main&seq=2", method="POST",
              form={"Digits": "2"}, status=200, elapsed_ms=4.14),
         "  POST /voice/keys?node=main&seq=2 200 4.1 ms"),
        # A GET carries the form in its query, unmasked: only the link's own fields are shown.
        (Turn(TurnKind.REQUEST, url=GET_URL, method="GET", status=200, elapsed_ms=12.0,
              form={"Digits": "******", "CallSid": "CA1"}),
         "  GET /ivr/voice/keys?node=ask_pin&seq=3 200 12.0 ms"),
        (Turn(TurnKind.REQUEST, url="http://localhost/voice", method="POST"), "  POST /voice -"),
    ],
)  # fmt: skip
def test_transcript_lines(turn: Turn, line: str) -> None:
    run = ScriptResult(Script("s", Path("s.yaml"), "", (), ()), Outcome.PASSED, transcript=[turn])
    assert transcript_text(run) == line
    if turn.kind == TurnKind.REQUEST:
        assert request_line(turn) == line.strip()


def test_transcript_text_ends_with_the_failed_expectation(results) -> None:
    lines = transcript_text(results[1]).splitlines()
    assert lines[0].startswith("  POST /voice 200 ") and lines[0].endswith(" ms")
    assert lines[-4:] == [
        f"hotline: {INJECTED}",
        "failed at line 2: expect '余额': not heard",
        "call ended: caller_hangup",
        "FAILED: line 2: expect '余额': not heard",
    ]
    assert transcript_text(results[0]).splitlines()[-1] == "call ended: caller_hangup"


def test_json_round_trips_with_every_field(results, measured, tmp_path: Path) -> None:
    write_json(results, measured, tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert set(data) == {"generated_at", "totals", "scripts", "coverage"}
    assert data["totals"] == {
        "scripts": 3,
        "passed": 1,
        "failed": 1,
        "error": 1,
        "skipped": 0,
        "seconds": 1.0,
    }
    first = data["scripts"][0]
    assert {k: first[k] for k in ("name", "file", "tags", "outcome", "failure", "end_state")} == {
        "name": "医保余额查询", "file": "tests/calls/balance.yaml", "tags": ["smoke"],
        "outcome": "passed", "failure": "", "end_state": "caller_hangup",
    }  # fmt: skip
    assert first["seconds"] == 0.25 and first["slowest_ms"] > 0
    assert first["steps"][3] == {
        "line": 4, "step": "press ******#", "ok": True,
        "elapsed_ms": first["steps"][3]["elapsed_ms"], "heard": MENU.text("medical_menu"),
        "message": "",
    }  # fmt: skip
    assert [s["ok"] for s in data["scripts"][1]["steps"]] == [True, False, True]
    assert data["scripts"][2]["end_state"] is None and data["scripts"][2]["slowest_ms"] > 0
    cover = data["coverage"]
    assert cover["percent"] == round(measured.percent, 1) and cover["nodes"]["balance"] == 1
    assert {"node": "main", "path": "key 1 -> social"} in cover["missed_paths"]
    assert "family" in cover["unreached"]


def test_json_without_coverage(results, tmp_path: Path) -> None:
    write_json(results[:1], None, tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["coverage"] is None


def test_html_is_one_escaped_self_contained_page(results, measured, tmp_path: Path) -> None:
    write_html(results, measured, tmp_path / "report.html", title="12333 <QA>")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<title>12333 &lt;QA&gt;</title>" in page
    for run in results:
        for turn in run.transcript:
            if turn.kind == TurnKind.HEARD:
                assert f'<p class="hotline">{escape(turn.text)}</p>' in page
    assert '<p class="caller">press <kbd>******#</kbd></p>' in page
    assert '<p class="caller silence">(silence)</p>' in page
    assert "<script" not in page and escape(INJECTED) in page
    assert f"<b>{measured.percent:.1f}%</b>" in page
    assert f"<h3>Never reached</h3><p>{', '.join(measured.unreached)}</p>" in page
    assert "<tr><td>balance</td><td>1</td></tr>" in page
    assert '<tr class="bad"><td>family</td><td>0</td></tr>' in page
    assert all(f"<li>{i.node}: {escape(i.path)}</li>" in page for i in measured.missed_paths())
    assert re.findall(r'href="([^"]*)"', page) == ["#script-0", "#script-1", "#script-2"]
    assert not re.search(r"\bsrc=|<link|@import|url\(", without_transcripts(page))
    assert "http://" not in without_transcripts(page) and "https://" not in page


@pytest.mark.parametrize(
    ("index", "shown"),
    [
        (0, ['<span class="passed">passed</span>', "<details>", "9/9",
             '<p class="req">call ended: caller_hangup</p>']),
        (1, ['<span class="failed">failed</span>', "<details open>", "2/3", 'class="failure"',
             '<tr class="bad"><td>2</td><td>expect &#x27;余额&#x27;</td><td>✗</td>']),
        (2, ['<span class="error">error</span>', "the hotline answered HTTP 500", "0/0",
             '<p class="req">POST /voice 500 ']),
    ],
)  # fmt: skip
def test_html_shows_each_result(results, tmp_path: Path, index: int, shown: list[str]) -> None:
    write_html(results, None, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = page[page.index(f'id="script-{index}"') :].split("</section>")[0]
    summary_row = page.split(f'href="#script-{index}"')[1].split("</tr>")[0]
    assert all(text in section or text in summary_row for text in shown)
    assert "Menu coverage" not in page


def test_latency_bars_share_one_scale(results, tmp_path: Path) -> None:
    write_html(results, None, tmp_path / "report.html")
    widths = [
        float(w) for w in re.findall(r'class="bar" style="width:([0-9.]+)%"', page_of(tmp_path))
    ]
    timed = [s for r in results for s in r.steps if s.elapsed_ms is not None]
    assert len(widths) == len(timed) and max(widths) == 100.0 and min(widths) > 0.0


def test_no_report_holds_the_pin(results, measured, tmp_path: Path) -> None:
    write_junit(results, tmp_path / "junit.xml")
    write_json(results, measured, tmp_path / "report.json")
    write_html(results, measured, tmp_path / "report.html")
    texts = [
        (tmp_path / n).read_text(encoding="utf-8")
        for n in ("junit.xml", "report.json", "report.html")
    ]
    for text in [*texts, transcript_text(results[0])]:
        assert PIN not in text and ID_KEYED[:-4] not in text
        assert "******#" in text


def without_transcripts(page: str) -> str:
    """The page without the chat bubbles, failure boxes and step messages (transcript text)."""
    page = re.sub(r'<p class="(hotline|caller|req)[^"]*">.*?</p>', "", page, flags=re.S)
    return re.sub(r'<div class="failure">.*?</div>', "", page, flags=re.S)


def page_of(tmp_path: Path) -> str:
    """The HTML report written to tmp_path."""
    return (tmp_path / "report.html").read_text(encoding="utf-8")
