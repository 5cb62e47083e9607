"""The `say` step of a call script: words spoken into a speech Gather, and their confidence.

    - say: 医保余额        # what the recogniser heard (Twilio's SpeechResult)
      confidence: 0.42     # optional, 0 to 1 (Twilio's Confidence); 0.9 when left out

`confidence` is the one key a step may carry beside its own, and only beside `say`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

import yaml

from ivr.qa.files import ScriptError
from ivr.qa.model import Step, StepKind
from ivr.sim.speech import DEFAULT_CONFIDENCE, check_said

SAY = StepKind.SAY.value
CONFIDENCE = "confidence"
NULL_TAG = "tag:yaml.org,2002:null"
SAY_EXAMPLE = "- say: 医保余额"
CONFIDENCE_HINT = f"expected a number from 0 to 1, e.g. {CONFIDENCE}: 0.42"

Value = Callable[[yaml.Node], Any]  # a node's Python value
Fill = Callable[[int, str, str], str]  # (line, text, where) -> text with ${NAME}s filled in
Error = Callable[[int, str], ScriptError]  # (line, reason) -> the error to raise


def is_say(node: yaml.Node, value: Value) -> TypeGuard[yaml.MappingNode]:
    """True for a step mapping with a `say` or a `confidence` key: this module reads it."""
    if not isinstance(node, yaml.MappingNode):
        return False
    return any(value(key) in (SAY, CONFIDENCE) for key, _ in node.value)


def say_step(line: int, node: yaml.MappingNode, value: Value, fill: Fill, error: Error) -> Step:
    """The say step a mapping holds: its words, filled in and checked, and its confidence."""
    found = {str(value(key)): (key, item) for key, item in node.value}
    if SAY not in found:
        raise error(line, f"{CONFIDENCE} goes with a say step: {SAY_EXAMPLE} then, below it,"
                          f" {CONFIDENCE}: 0.42")  # fmt: skip
    others = [name for name in found if name not in (SAY, CONFIDENCE)]
    if others:
        listed = ", ".join(found)
        raise error(line, f"one step has one key (a say step may add {CONFIDENCE}), found"
                          f" {listed}: start each step with its own '- '")  # fmt: skip
    confidence = DEFAULT_CONFIDENCE
    if CONFIDENCE in found:
        key, item = found[CONFIDENCE]
        confidence = _confidence(key.start_mark.line + 1, value(item), error)
    text = _words(line, found[SAY][1], fill, error)
    try:
        check_said(text, confidence)
    except ValueError as exc:
        raise error(line, f"say: {exc}") from None
    return Step(StepKind.SAY, line, text=text.strip(), confidence=confidence)


def _words(line: int, node: yaml.Node, fill: Fill, error: Error) -> str:
    """The words, exactly as written (quotes optional), with variables filled in."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == NULL_TAG or not node.value.strip():
        raise error(line, f"say: expected the words the caller says, e.g. {SAY_EXAMPLE}")
    text = fill(line, node.value, SAY)
    if not text.strip():
        raise error(line, "say: the words are empty once the variables are filled in")
    return text


def _confidence(line: int, number: Any, error: Error) -> float:
    """A confidence from 0 to 1; text, a bool or NaN is refused (a quoted "0.9" too)."""
    real = isinstance(number, int | float) and not isinstance(number, bool)
    if not real or not 0.0 <= number <= 1.0:
        raise error(line, f"{CONFIDENCE}: {CONFIDENCE_HINT}, got {number!r}")
    return float(number)
