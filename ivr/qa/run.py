"""Run one QA call script on a simulated caller and judge each step as it goes."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ivr.core.identity import mask_keyed
from ivr.qa.model import Outcome, Script, ScriptResult, Step, StepKind, StepResult
from ivr.sim.caller import Caller
from ivr.sim.speech import NotListening
from ivr.sim.transport import SimulatorError, WebhookError
from ivr.sim.turns import Turn, TurnKind
from ivr.sim.twiml_check import TwimlInvalid

BUDGET_MS = 15_000  # Twilio gives up on a webhook after 15 s
HEARD_CHARS = 200  # what a one-line failure quotes of the text heard
APPLICATION_ERROR = "the caller hears Twilio's application error"
_KEY_RUN = re.compile(r"[0-9*#]{2,}")
# What Twilio rejects: bad answers (the simulator's WebhookError) and checker-invalid TwiML.
_REJECTED = (WebhookError, TwimlInvalid)
_INPUTS = (StepKind.PRESS, StepKind.SAY)


def run_script(
    script: Script, caller: Caller, *, sleep: Callable[[float], None] = time.sleep
) -> ScriptResult:
    """Dial, run the steps until the first failure, check the end; the call never dangles."""
    started = time.perf_counter()
    result = ScriptResult(script=script, outcome=Outcome.PASSED, call_sid=caller.call_sid)
    try:
        _Run(script, caller, result, sleep).go()
    finally:
        # After the expect_end check: a call left waiting is hung up, not abandoned.
        if caller.waiting is not None:  # a call never answered, or broken, is not hung up
            caller.hangup()
        result.transcript = [_masked(turn) for turn in caller.transcript]
        result.end_state = caller.end_state
        result.seconds = time.perf_counter() - started
    return result


def shorten(text: str, limit: int = HEARD_CHARS) -> str:
    """Text on one line, its middle cut out when longer than `limit` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = limit * 3 // 4
    return f"{flat[:head]} … {flat[-(limit - head) :]}"


def slowest_request(turns: Sequence[Turn]) -> float | None:
    """The slowest webhook round trip among `turns`, in milliseconds."""
    times = [t.elapsed_ms for t in turns if t.kind == TurnKind.REQUEST and t.elapsed_ms is not None]
    return max(times, default=None)


def _masked(turn: Turn) -> Turn:
    """A turn whose URL carries no raw keys (a GET Gather action puts Digits in its query)."""
    if turn.url is None or "Digits=" not in turn.url:
        return turn
    parts = urlsplit(turn.url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, mask_keyed(v) if k == "Digits" else v) for k, v in pairs])
    return dataclasses.replace(turn, url=urlunsplit(parts._replace(query=query)))


def _ms(value: float) -> str:
    """Milliseconds as a person reads them: 812, 9.49, 0.001."""
    return f"{value:.0f}" if value >= 10 else f"{value:.3g}"


class _Run:
    """One script's run: the text heard since the last input, and the result being filled."""

    def __init__(self, script: Script, caller: Caller, result: ScriptResult,
                 sleep: Callable[[float], None]) -> None:  # fmt: skip
        """Start with nothing heard; note the keys to mask in error messages."""
        self.script, self.caller, self.result, self.sleep = script, caller, result, sleep
        self.heard = ""
        self.mark = 0  # where the current step's turns begin in the transcript
        # Digits said aloud may be a PIN as well as keys pressed.
        self.secrets = [s.keys or s.text for s in script.steps if s.kind in _INPUTS]
        self.ended_before = False  # whether the call was over when the current step began

    def go(self) -> None:
        """Dial, then each step in order; stop at the first failure."""
        try:
            self.heard = self.caller.dial()
        except (SimulatorError, TwimlInvalid) as exc:
            self._error(None, exc)
            return
        problem = self._budget(slowest_request(self.caller.transcript))
        if problem:
            self._finish(Outcome.FAILED, f"dial: {problem}")
            return
        for step in self.script.steps:
            self.mark = len(self.caller.transcript)
            self.ended_before = self.caller.ended
            try:
                done = self._step(step)
            except NotListening as exc:  # speech at a keys-only Gather, or keys at speech-only
                done = StepResult(step, ok=False, message=str(exc))
            except (SimulatorError, TwimlInvalid) as exc:
                self._error(step, exc)
                return
            self.result.steps.append(done)
            if not done.ok:
                self._finish(Outcome.FAILED, f"line {step.line}: {step.describe()}: {done.message}")
                return
        self._check_end()

    def _step(self, step: Step) -> StepResult:
        """Run one step and judge it."""
        match step.kind:
            case StepKind.EXPECT | StepKind.EXPECT_NOT:
                return self._expect(step)
            case StepKind.WAIT_MS:
                self.sleep(step.ms / 1000)
                return StepResult(step, ok=True)
            case StepKind.PRESS:
                self.heard = self.caller.press(step.keys)
            case StepKind.SAY:
                self.heard = self.caller.say(step.text, step.confidence)
            case StepKind.SILENCE:
                self.heard = "".join(self.caller.silence() for _ in range(step.count))
            case StepKind.HANGUP:
                self.caller.hangup()
                self.heard = ""  # nothing is heard after hanging up
        elapsed = slowest_request(self.caller.transcript[self.mark :])
        problem = self._budget(elapsed)
        return StepResult(step, not problem, self.heard, elapsed, problem)

    def _expect(self, step: Step) -> StepResult:
        """Check the text heard since the last input against an expectation."""
        assert step.expectation is not None
        found = step.expectation.matches(self.heard)
        if found == (step.kind == StepKind.EXPECT):
            return StepResult(step, ok=True)
        quoted = repr(shorten(self.heard))
        message = f"heard it in {quoted}" if found else f"heard {quoted}"
        return StepResult(step, ok=False, message=message)

    def _budget(self, elapsed: float | None) -> str:
        """Why a round trip was too slow, or an empty string."""
        if elapsed is None:
            return ""
        if elapsed > BUDGET_MS:
            return f"webhook took {_ms(elapsed)} ms; Twilio gives up after {BUDGET_MS} ms"
        budget = self.script.max_step_ms
        if budget is not None and elapsed > budget:
            return f"webhook took {_ms(elapsed)} ms, budget {_ms(budget)} ms"
        return ""

    def _check_end(self) -> None:
        """Compare how the call ended with `expect_end`."""
        expected = self.script.expect_end
        if expected is None:
            return
        caller = self.caller
        if caller.ended and caller.end_state == expected:
            return
        if caller.ended:
            state = f"the call ended with {caller.end_state}"
        else:
            state = "the call is still waiting at a Gather"
        self._finish(Outcome.FAILED, f"expect_end {expected}: {state}")

    def _error(self, step: Step | None, exc: Exception) -> None:
        """Record what Twilio (or the simulator) refused, as an ERROR."""
        # The message up to the attached body or document, on one line.
        text = " ".join(str(exc).split("\n--- ")[0].split()) or type(exc).__name__
        reason = self._mask(text)
        if isinstance(exc, _REJECTED):
            reason = f"{APPLICATION_ERROR}: {reason}"
        where = f"line {step.line}: {step.describe()}" if step else "dial"
        outcome = Outcome.ERROR
        if not isinstance(exc, _REJECTED) and step is not None and self.ended_before:
            # The script expected more of a call the hotline had already ended: a test failure.
            outcome = Outcome.FAILED
            reason = f"the call had already ended ({self.caller.end_state}) before this step"
        if step is not None:
            heard = self.caller.text_since_last_input
            elapsed = slowest_request(self.caller.transcript[self.mark :])
            self.result.steps.append(StepResult(step, False, heard, elapsed, reason))
        self._finish(outcome, f"{shorten(reason, 300)} ({where})")

    def _mask(self, text: str) -> str:
        """Mask any run of keys the script presses (a GET URL or an echo may carry a PIN)."""

        def hide(match: re.Match[str]) -> str:
            """The run masked when it is part of pressed keys."""
            run = match.group(0)
            return mask_keyed(run) if any(run in keys for keys in self.secrets) else run

        return _KEY_RUN.sub(hide, text)

    def _finish(self, outcome: Outcome, failure: str) -> None:
        """Record the first failure."""
        self.result.outcome, self.result.failure = outcome, failure
