"""Running QA call scripts (ivr.qa.run) against the real hotline and tiny broken ones."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent
from types import SimpleNamespace

import pytest
from flask import Flask, Response

from ivr.qa.html import write_html
from ivr.qa.load import load_script
from ivr.qa.model import Outcome, ScriptResult, StepKind
from ivr.qa.run import run_script, shorten
from ivr.qa.text import transcript_text
from ivr.sim.caller import Caller, FlaskTransport, Reply, Transport
from ivr.sim.state import restore, snapshot
from ivr.sim.turns import EndState, TurnKind
from ivr.sim.twiml_check import TwimlChecker

PIN = "135790"
WELCOME = "欢迎致电幺二三三三"
NO_INPUT = "抱歉，没有收到您的按键"
IDENTIFY = ['  - press: "2"', '  - press: "65010219680312109*#"', '  - press: "${PIN}#"']

BALANCE = """\
name: 医保余额查询（身份证尾号X）
caller: "+8613900139000"
tags: [balance, smoke]
steps:
  - expect: 欢迎致电幺二三三三
  - press: "2"
  - expect: {regex: "身份证号码.*井号键结束"}
  - press: "65010219680312109*#"
  - expect: 请输入六位查询密码
  - press: "${PIN}#"
  - press: "1"
  - expect: {any: ["一千二百三十四元五角六分", "一千两百三十四元五角六分"]}
  - expect_not: 王建国
  - silence: 1
  - expect: 抱歉，没有收到您的按键
  - wait_ms: 200
  - hangup
expect_end: caller_hangup
max_step_ms: 5000
"""

Run = Callable[..., ScriptResult]


@pytest.fixture
def run(tmp_path: Path, make_caller: Callable[..., Caller]) -> Run:
    """Write a script, load it with PIN set, and run it on a caller of the demo hotline."""

    def go(text: str, caller: Caller | None = None, **options: object) -> ScriptResult:
        """The run's result; `options` go to run_script."""
        path = tmp_path / "script.yaml"
        path.write_text(dedent(text), encoding="utf-8")
        script = load_script(path, {"PIN": PIN})
        return run_script(script, caller or make_caller(from_=script.caller), **options)

    return go


def steps(*lines: str, end: str = "") -> str:
    """A script of these step lines (the first step is on line 2)."""
    return "steps:\n" + "\n".join(lines) + "\n" + end


def secrets_shown(result: ScriptResult) -> str:
    """Everything a report prints of a run besides what the hotline said."""
    shown = [result.failure] + [f"{r.step.describe()} {r.message}" for r in result.steps]
    turns = [f"{t.text} {t.url} {t.form}" for t in result.transcript if t.kind != TurnKind.HEARD]
    return "\n".join(shown + turns)


def test_balance_script_passes(run: Run) -> None:
    """The issue's balance call, PIN from a variable: every step passes, the call is hung up."""
    slept: list[float] = []
    result = run(BALANCE, sleep=slept.append)
    assert (result.outcome, result.failure) == (Outcome.PASSED, "")
    assert [r.ok for r in result.steps] == [True] * 13
    assert result.end_state == EndState.CALLER_HANGUP
    assert slept == [0.2]
    assert result.transcript[0].form is not None
    assert result.transcript[0].form["From"] == "+8613900139000"
    assert result.call_sid == result.transcript[0].form["CallSid"]
    assert result.seconds > 0
    inputs = [r for r in result.steps if r.step.kind in (StepKind.PRESS, StepKind.SILENCE)]
    assert all(r.elapsed_ms is not None and r.elapsed_ms > 0 for r in inputs)
    assert "一千二百三十四元五角六分" in inputs[3].heard
    assert PIN not in secrets_shown(result)


@pytest.mark.parametrize(
    ("lines", "heard_by_step"),
    [
        (['  - press: "2"'], ["请输入您的十八位身份证号码"]),
        (["  - silence"], [NO_INPUT]),
        (["  - silence: 2"], [NO_INPUT + "。社会保险查询请按一；医疗保险服务请按二"]),
        (["  - hangup"], [""]),
        (["  - wait_ms: 0", "  - expect: For English service"], ["", ""]),
        ([*IDENTIFY, "  - expect: 个人账户余额查询请按一"], ["", "", "", ""]),
    ],
)
def test_each_step_kind(run: Run, lines: list[str], heard_by_step: list[str]) -> None:
    """Inputs keep what they made the caller hear; expects read what the last input heard."""
    result = run(steps(*lines))
    assert result.outcome == Outcome.PASSED, result.failure
    assert len(result.steps) == len(heard_by_step)
    for step_result, heard in zip(result.steps, heard_by_step, strict=True):
        assert step_result.heard.startswith(heard)


def test_silence_counts_and_hears_every_timeout(run: Run) -> None:
    """`silence: 2` is two timeouts; its text is both of them, and an expect sees them all."""
    result = run(steps("  - silence: 2", f"  - expect: {{regex: '{NO_INPUT}.*{NO_INPUT}'}}"))
    assert result.outcome == Outcome.PASSED, result.failure
    assert result.steps[0].heard.count(NO_INPUT) == 2
    assert [t.kind for t in result.transcript].count(TurnKind.SILENCE) == 2


FAILING = [
    # (steps, line of the failure, the failure message)
    (["  - expect: 再见"], 2, "line 2: expect '再见': heard '欢迎致电幺二三三三"),
    (
        ['  - press: "2"', "  - expect_not: 身份证"],
        3,
        "line 3: expect_not '身份证': heard it in '请输入",
    ),
    (["  - expect: {regex: '^社会保险'}"], 2, "line 2: expect regex /^社会保险/: heard '欢迎"),
    (["  - expect: {any: [再见, 转接]}"], 2, "line 2: expect any of '再见' | '转接': heard '欢迎"),
    (["  - hangup", "  - expect: 欢迎"], 3, "line 3: expect '欢迎': heard ''"),
]


@pytest.mark.parametrize(("lines", "line", "failure"), FAILING)
def test_failed_expectation_stops_the_script(
    run: Run, lines: list[str], line: int, failure: str
) -> None:
    """The first unmet expectation fails the run, naming its line, what was heard and why."""
    result = run(steps(*lines, "  - press: '1'"))
    assert result.outcome == Outcome.FAILED
    assert result.failure.startswith(failure), result.failure
    assert result.steps[-1].step.line == line and not result.steps[-1].ok
    assert len(result.steps) == line - 1  # nothing after the failure ran
    assert result.end_state == EndState.CALLER_HANGUP  # the runner hung up


@pytest.mark.parametrize(
    ("expectation", "outcome"),
    [
        ("欢迎致电", Outcome.PASSED),
        ("{regex: '^欢迎致电.*请按星号键。'}", Outcome.PASSED),
        ("{regex: '按[一二零]'}", Outcome.PASSED),
        ("{any: [再见, 幺二三三三]}", Outcome.PASSED),
        ("{any: [再见, 转接]}", Outcome.FAILED),
        ("{regex: '^请按'}", Outcome.FAILED),
    ],
)
def test_text_regex_and_any(run: Run, expectation: str, outcome: Outcome) -> None:
    """Substring, regex (re.search) and any-of expectations on the welcome."""
    assert run(steps(f"  - expect: {expectation}")).outcome == outcome


def test_long_heard_text_is_shortened(run: Run) -> None:
    """A failure quotes at most about 200 characters of what was heard, on one line."""
    assert shorten("x" * 50) == "x" * 50
    assert shorten("a\nb  c") == "a b c"
    assert len(shorten("x" * 1000)) <= 203
    result = run(steps(*IDENTIFY, '  - press: "1"', "  - expect: 再见"))
    assert len(result.failure) < 300 and "\n" not in result.failure


@pytest.mark.parametrize(
    ("lines", "end", "outcome", "failure"),
    [
        (["  - silence: 3"], "hangup", Outcome.PASSED, ""),
        (["  - silence: 3"], "transfer", Outcome.FAILED, "expect_end transfer: the call ended with"
         " hangup"),
        (["  - hangup"], "caller_hangup", Outcome.PASSED, ""),
        (["  - expect: 欢迎"], "hangup", Outcome.FAILED, "expect_end hangup: the call is still"
         " waiting at a Gather"),
        (["  - expect: 欢迎"], "caller_hangup", Outcome.FAILED, "expect_end caller_hangup: the call"
         " is still waiting at a Gather"),
    ],
)  # fmt: skip
def test_expect_end(run: Run, lines: list[str], end: str, outcome: Outcome, failure: str) -> None:
    """The end state is checked before the runner hangs up a call left waiting."""
    result = run(steps(*lines, end=f"expect_end: {end}\n"))
    assert (result.outcome, result.failure) == (outcome, failure)
    assert result.end_state in (EndState.HANGUP, EndState.CALLER_HANGUP)


def test_tiny_latency_budget_fails_the_dial(run: Run) -> None:
    """max_step_ms applies to every round trip, the dial's too."""
    result = run(steps("  - hangup", end="max_step_ms: 0.001\n"))
    assert result.outcome == Outcome.FAILED
    assert result.failure.startswith("dial: webhook took ")
    assert result.failure.endswith(" ms, budget 0.001 ms")
    assert result.steps == []


class SlowTransport:
    """Each webhook request "takes" the next of the given delays on a fake perf_counter."""

    def __init__(self, inner: Transport, delays_ms: list[float]) -> None:
        """Start the fake clock at zero."""
        self.inner, self.delays, self.now = inner, list(delays_ms), 0.0

    def perf_counter(self) -> float:
        """The fake time in seconds (the simulator times its requests with this)."""
        return self.now

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> Reply:
        """Answer, then let the request's delay pass (1 ms once the delays run out)."""
        reply = self.inner.post(url, form, headers)
        self.now += (self.delays.pop(0) if self.delays else 1) / 1000
        return reply

    def get(self, url: str, headers: dict[str, str]) -> Reply:
        """Audio fetches take no time: only webhooks are timed."""
        return self.inner.get(url, headers)


@pytest.mark.parametrize(
    ("delays", "budget", "line", "failure"),
    [
        ([5, 812], "max_step_ms: 500\n", 3, "line 3: press 2: webhook took 812 ms, budget 500 ms"),
        ([5, 5, 5, 499.5], "max_step_ms: 500\n", 0, ""),
        ([5, 5, 16_000], "", 4, "line 4: press **************109*#: webhook took 16000 ms; Twilio"
         " gives up after 15000 ms"),
        ([5, 5, 5, 15_000], "", 0, ""),
        ([5, 9.49], "max_step_ms: 9\n", 3, "line 3: press 2: webhook took 9.49 ms, budget 9 ms"),
        ([16_000], "max_step_ms: 20000\n", 0, "dial: webhook took 16000 ms; Twilio gives up"
         " after 15000 ms"),
    ],
)  # fmt: skip
def test_slow_webhooks_fail_their_step(
    run: Run, make_caller: Callable[..., Caller], monkeypatch: pytest.MonkeyPatch,
    delays: list[float], budget: str, line: int, failure: str,
) -> None:  # fmt: skip
    """The slowest round trip a step caused is its time; over budget or 15 s, it fails."""
    caller = make_caller()
    caller.transport = slow = SlowTransport(caller.transport, delays)
    monkeypatch.setattr("ivr.sim.exchange.time", SimpleNamespace(perf_counter=slow.perf_counter))
    result = run(steps("  - expect: 欢迎", *IDENTIFY[:2], "  - expect: 密码", end=budget), caller)
    assert result.failure == failure
    assert result.outcome == (Outcome.FAILED if failure else Outcome.PASSED)
    failed = [r for r in result.steps if not r.ok]
    assert [r.step.line for r in failed] == ([line] if line else [])
    if failed:
        assert failed[0].elapsed_ms == pytest.approx(max(delays))


def tiny_app(routes: dict[str, tuple[int, str, str]]) -> Flask:
    """A hotline that answers each path with a fixed status, content type and body."""
    app = Flask("tiny_hotline")
    for path, (status, kind, body) in routes.items():

        def view(status: int = status, kind: str = kind, body: str = body) -> Response:
            """The canned answer."""
            return Response(body, status=status, content_type=kind)

        app.add_url_rule(path, path, view, methods=["GET", "POST"])
    return app


XML = "text/xml"
GATHER = '<Response><Gather action="/next" numDigits="1"><Say>请按一</Say></Gather></Response>'
GATHER_GET = '<Response><Gather action="/next" method="GET"><Say>请输入</Say></Gather></Response>'
ERRORS = [
    # (the /voice answer, the /next answer, the step, the failure)
    ((500, XML, "<oops/>"), None, "", "the caller hears Twilio's application error: "
     "http://localhost/voice answered HTTP 500 (dial)"),
    ((200, "text/plain", "hi"), None, "", "the caller hears Twilio's application error: "
     "http://localhost/voice answered Content-Type 'text/plain', not XML (dial)"),
    ((200, XML, "<Response><Sya>hi</Sya></Response>"), None, "",
     "the caller hears Twilio's application error: Response: <Sya> is not a TwiML element"),
    ((200, XML, "<Response><Play>/next</Play></Response>"), (200, "text/html", "x"), "",
     "the caller hears Twilio's application error: <Play> http://localhost/next answered HTTP 200"
     " text/html with 1 bytes; Twilio needs 200 and audio (dial)"),
    ((200, XML, GATHER), (503, XML, ""), '  - press: "1"', "the caller hears Twilio's application"
     " error: http://localhost/next answered HTTP 503 (line 2: press 1)"),
    ((200, XML, GATHER), (200, XML, "<Response><Hangup/></Response>"), '  - press: "12"',
     "keys '2' left over: no Gather took them (line 2: press **)"),
    ((200, XML, GATHER), (200, XML, "<Response><Hangup/></Response>"), '  - press: "${PIN}#"',
     "keys '*****#' left over: no Gather took them (line 2: press ******#)"),
    ((200, XML, GATHER_GET), (500, XML, PIN), '  - press: "${PIN}#"',
     "the caller hears Twilio's application error: http://localhost/next?CallSid="),
]  # fmt: skip


def test_a_refused_answer_shows_the_checkers_rule_in_every_transcript(
    run: Run, tmp_path: Path
) -> None:
    """No schema is needed: the project's checker refuses, and each report says why."""
    invalid = "<Response><Gather><Say>请按<Play>/a.wav</Play></Say></Gather></Response>"
    app = tiny_app({"/voice": (200, XML, invalid)})
    caller = Caller(FlaskTransport(app))  # no checker given: it checks all the same
    result = run(steps("  - hangup"), caller)
    rule = "Response/Gather[1]/Say[1]: <Play> is not allowed inside <Say>"
    assert result.outcome == Outcome.ERROR and rule in (result.failure or "")
    request = next(turn for turn in result.transcript if turn.kind == TurnKind.REQUEST)
    assert request.refused == rule
    assert f"    refused: {rule}" in transcript_text(result).splitlines()
    write_html([result], None, tmp_path / "report.html")
    assert html.escape(rule) in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert restore(snapshot(caller), FlaskTransport(app)).transcript[0].refused == rule


@pytest.mark.parametrize(("voice", "after", "step", "failure"), ERRORS)
def test_what_twilio_would_reject_is_an_error(
    run: Run, twiml_checker: TwimlChecker, voice: tuple[int, str, str],
    after: tuple[int, str, str] | None, step: str, failure: str,
) -> None:  # fmt: skip
    """Bad answers are the application error a caller hears; keys never show unmasked."""
    app = tiny_app({"/voice": voice, "/next": after or (404, XML, "")})
    result = run(steps(step or "  - hangup"), Caller(FlaskTransport(app), checker=twiml_checker))
    assert result.outcome == Outcome.ERROR
    assert result.failure.startswith(failure), result.failure
    assert "\n" not in result.failure and "--- body ---" not in result.failure
    assert PIN not in result.failure
    assert PIN not in str([t.url for t in result.transcript])
    assert all(PIN not in f"{r.step.describe()} {r.message}" for r in result.steps)
    if step:
        assert [r.ok for r in result.steps] == [False]
        assert result.failure.startswith(result.steps[0].message[:60])


def test_pressing_after_the_call_ended_is_a_failure(run: Run) -> None:
    """Keys after the hotline hung up: the script expected more of the call, so FAILED."""
    result = run(steps("  - silence: 3", '  - press: "1"', "  - expect: 欢迎"))
    assert result.outcome == Outcome.FAILED
    assert result.failure == (
        "the call had already ended (hangup) before this step (line 3: press 1)"
    )
    assert [r.ok for r in result.steps] == [True, False]
    assert result.end_state == EndState.HANGUP


def test_pressing_after_hanging_up_is_a_failure(run: Run) -> None:
    """The caller's own hang-up ends the call too."""
    result = run(steps("  - hangup", '  - press: "1"'))
    assert result.outcome == Outcome.FAILED
    assert result.failure == (
        "the call had already ended (caller_hangup) before this step (line 3: press 1)"
    )
    assert result.end_state == EndState.CALLER_HANGUP


def test_a_wrong_pin_never_shows_in_the_result(run: Run) -> None:
    """Failing right after the PIN: its digits appear in no failure, step or request."""
    result = run(steps(*IDENTIFY, "  - expect: 余额为"))
    assert result.outcome == Outcome.FAILED
    assert result.failure.startswith("line 5: expect '余额为': heard '个人账户余额查询请按一")
    assert PIN not in secrets_shown(result)
    assert [r.step.describe() for r in result.steps[1:3]] == [
        "press **************109*#",
        "press ******#",
    ]
