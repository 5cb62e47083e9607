"""Call-script results as plain text: the transcript and verdict every report shows, and counts.

Transcripts arrive with keyed input already masked; nothing here looks at a script's own keys
(Step.describe() masks them too), so no report can hold a PIN the transcript does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit

from ivr.qa.model import Outcome, ScriptResult
from ivr.sim.speech import said_line
from ivr.sim.turns import Turn, TurnKind


def request_line(turn: Turn) -> str:
    """A request as one line: method, path and query without the form, status, time."""
    parts = urlsplit(turn.url or "")
    form = turn.form or {}
    # A GET carries the form in its query, Digits unmasked: keep only the link's own fields.
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in form]
    query = urlencode(kept)
    status = "-" if turn.status is None else str(turn.status)
    ms = "" if turn.elapsed_ms is None else f" {turn.elapsed_ms:.1f} ms"
    return f"{turn.method or 'POST'} {parts.path}{'?' + query if query else ''} {status}{ms}"


def _turn_line(turn: Turn) -> str:
    """One transcript turn as a line of text."""
    match turn.kind:
        case TurnKind.HEARD:
            return f"hotline: {turn.text}"
        case TurnKind.PRESSED:
            return f"caller: press {turn.text}"
        case TurnKind.SAID:  # as the script writes it: say 医保余额 (0.90)
            return f"caller: say {said_line(turn.text, turn.confidence)}"
        case TurnKind.SILENCE:
            return "caller: (silence)"
    return "".join(["  " + request_line(turn), *(f"\n    {line}" for line in refused_lines(turn))])


def refused_lines(turn: Turn) -> list[str]:
    """Why Twilio would refuse a request's answer, a `refused: …` line per problem."""
    return [f"refused: {problem}" for problem in (turn.refused or "").splitlines()]


def verdict(result: ScriptResult) -> list[str]:
    """The failed steps, how the call ended and the outcome, as lines."""
    lines = [
        f"failed at line {s.step.line}: {s.step.describe()}: {s.message or 'not met'}"
        for s in result.steps
        if not s.ok
    ]
    if result.end_state is not None:
        lines.append(f"call ended: {result.end_state.value}")
    if result.outcome != Outcome.PASSED:
        lines.append(f"{result.outcome.value.upper()}: {result.failure or 'no reason given'}")
    return lines


def transcript_text(result: ScriptResult) -> str:
    """The plain-text transcript: what was heard, keys, silences, requests, and the failure."""
    return "\n".join([*map(_turn_line, result.transcript), *verdict(result)])


def count(results: Sequence[ScriptResult], outcome: Outcome) -> int:
    """How many results ended with `outcome`."""
    return sum(1 for result in results if result.outcome == outcome)
