"""QA call scripts as data: a script's steps and expectations, and what running it gave."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ivr.core.identity import mask_keyed
from ivr.sim.speech import DEFAULT_CONFIDENCE, mask_said, said_line
from ivr.sim.turns import EndState, Turn


class StepKind(StrEnum):
    """What one step of a call script does."""

    EXPECT = "expect"  # what was heard since the last input contains / matches this
    EXPECT_NOT = "expect_not"  # ... and must not contain / match this
    PRESS = "press"  # key digits into the waiting Gather
    SAY = "say"  # speak into a Gather that listens for speech (Twilio posts SpeechResult)
    SILENCE = "silence"  # let the waiting Gather time out, `count` times
    HANGUP = "hangup"  # the caller hangs up
    WAIT_MS = "wait_ms"  # the caller waits (real time) before the next step


class MatchKind(StrEnum):
    """How an expectation matches the text heard."""

    TEXT = "text"  # a substring
    REGEX = "regex"  # re.search
    ANY = "any"  # any one of several substrings


@dataclass(frozen=True)
class Expectation:
    """A check on the text heard since the previous input."""

    kind: MatchKind
    values: tuple[str, ...]  # one value for TEXT and REGEX, several for ANY

    def matches(self, heard: str) -> bool:
        """True when the heard text satisfies this expectation."""
        if self.kind == MatchKind.REGEX:
            return re.search(self.values[0], heard) is not None
        return any(value in heard for value in self.values)

    def describe(self) -> str:
        """The expectation as a person would read it in a report."""
        if self.kind == MatchKind.REGEX:
            return f"regex /{self.values[0]}/"
        if self.kind == MatchKind.ANY:
            return "any of " + " | ".join(repr(v) for v in self.values)
        return repr(self.values[0])


@dataclass(frozen=True)
class Step:
    """One line of a call script, with its line number for error messages and reports."""

    kind: StepKind
    line: int
    keys: str = ""  # PRESS, variables already filled in
    expectation: Expectation | None = None  # EXPECT and EXPECT_NOT
    count: int = 1  # SILENCE: how many timeouts in a row
    ms: int = 0  # WAIT_MS
    text: str = ""  # SAY: the words said, variables already filled in
    confidence: float = DEFAULT_CONFIDENCE  # SAY: what the recogniser reports, 0 to 1

    def describe(self) -> str:
        """The step as written, for reports (keys masked as transcripts mask them)."""
        match self.kind:
            case StepKind.PRESS:
                return f"press {mask_keyed(self.keys)}"
            case StepKind.SAY:
                return f"say {said_line(repr(mask_said(self.text)), self.confidence)}"
            case StepKind.EXPECT | StepKind.EXPECT_NOT:
                assert self.expectation is not None
                return f"{self.kind.value} {self.expectation.describe()}"
            case StepKind.SILENCE:
                return f"silence {self.count}"
            case StepKind.WAIT_MS:
                return f"wait_ms {self.ms}"
        return self.kind.value


@dataclass(frozen=True)
class Script:
    """A parsed, checked call script, ready to run."""

    name: str
    path: Path
    caller: str  # the From number
    tags: tuple[str, ...]
    steps: tuple[Step, ...]
    expect_end: EndState | None = None
    max_step_ms: float | None = None


class Outcome(StrEnum):
    """How a script run ended."""

    PASSED = "passed"
    FAILED = "failed"  # an expectation, the end state or a latency budget was not met
    ERROR = "error"  # the hotline answered what Twilio would reject, or was unreachable
    SKIPPED = "skipped"  # not run: --fail-fast stopped the batch first


@dataclass
class StepResult:
    """What one step did: for inputs, the webhook time and what was heard after."""

    step: Step
    ok: bool
    heard: str = ""  # for inputs: the text heard as a result of this step
    elapsed_ms: float | None = None  # for inputs: the slowest webhook round trip it caused
    message: str = ""  # why it failed


@dataclass
class ScriptResult:
    """One script's run: the outcome, each step, and the simulator's whole transcript."""

    script: Script
    outcome: Outcome
    steps: list[StepResult] = field(default_factory=list)
    transcript: list[Turn] = field(default_factory=list)
    end_state: EndState | None = None
    failure: str = ""  # the first failure, in one line
    seconds: float = 0.0
    call_sid: str = ""

    @property
    def slowest_ms(self) -> float | None:
        """The slowest webhook round trip of the call, in milliseconds."""
        times = [t.elapsed_ms for t in self.transcript if t.elapsed_ms is not None]
        return max(times, default=None)
