"""Record a terminal call as a call script: the steps taken, with every keyed PIN and ID
number a variable (a script file is shared; PINs and ID numbers must not be in it)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

from ivr.sim.speech import DEFAULT_CONFIDENCE
from ivr.sim.turns import EndState

PLACEHOLDER = re.compile(r"\[play:[^\]]*\]")  # a <Play> whose audio says no text
SENTENCE_END = re.compile(r"[。！？；]|[.!?;](?=\s|$)")
# A PIN is six digits keyed on their own: between line start or # and # or line end.
PIN_KEYS = re.compile(r"(?:(?<=^)|(?<=#))[0-9]{6}(?=#|$)")
# An ID number (X keyed as *) or a card number, keyed on its own the same way.
ID_KEYS = re.compile(r"(?:(?<=^)|(?<=#))(?:[0-9]{17}[0-9*]|[0-9]{9})(?=#|$)")
# The same numbers said aloud, anywhere in a sentence: a PIN (6), a card (9) or an ID (18).
SAID_SECRET = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{9}|[0-9]{6})(?![0-9Xx])")


def first_sentence(utterances: Iterable[str]) -> str | None:
    """A distinctive part of what was heard: its first sentence (all of it is too brittle)."""
    for utterance in utterances:
        text = PLACEHOLDER.sub("", utterance).strip()
        if text:
            end = SENTENCE_END.search(text)
            return text[: end.end()] if end else text
    return None


class _Keys(str):
    """Keys to press, written in double quotes as the README writes them."""


class _ScriptDumper(yaml.SafeDumper):
    """yaml.safe_dump's dumper, quoting keys (an unquoted " #" would start a comment)."""


_ScriptDumper.add_representer(
    _Keys, lambda dumper, keys: dumper.represent_scalar("tag:yaml.org,2002:str", keys, style='"')
)


class Recording:
    """The call as call-script steps, with every PIN replaced by a variable as it is keyed."""

    def __init__(self) -> None:
        """Start with no steps."""
        self.steps: list[Any] = []
        # keyed secret -> its variable name, held in memory only
        self._names: dict[str, dict[str, str]] = {"PIN": {}, "ID": {}}

    @property
    def variables(self) -> list[str]:
        """The variables standing for PINs and ID numbers, in the order first keyed."""
        return [name for names in self._names.values() for name in names.values()]

    def heard(self, utterances: list[str]) -> None:
        """Expect a distinctive part of what the last action made the caller hear."""
        expected = first_sentence(utterances)
        if expected:
            self.steps.append({"expect": expected})

    def press(self, keys: str) -> None:
        """Record a key press, never with a PIN in it."""
        keys = PIN_KEYS.sub(lambda m: self._variable("PIN", m[0]), keys)
        keys = ID_KEYS.sub(lambda m: self._variable("ID", m[0]), keys)
        self.steps.append({"press": _Keys(keys)})

    def say(self, text: str, confidence: float) -> None:
        """Record words said, a spoken PIN or ID number as a variable; confidence if not 0.9."""
        text = SAID_SECRET.sub(lambda m: self._variable("PIN" if len(m[0]) == 6 else "ID", m[0]),
                               text)  # fmt: skip
        step: dict[str, Any] = {"say": text}
        if confidence != DEFAULT_CONFIDENCE:
            step["confidence"] = confidence
        self.steps.append(step)

    def _variable(self, kind: str, keyed: str) -> str:
        """`${PIN}` for the first PIN keyed, `${PIN2}` for a different one; `${ID}` alike."""
        names = self._names[kind]
        suffix = str(len(names) + 1) if names else ""
        return "${" + names.setdefault(keyed, kind + suffix) + "}"

    def document(self, name: str, caller: str, end: EndState | None) -> dict[str, Any]:
        """The call script, ready for dump_script."""
        script: dict[str, Any] = {"name": name, "caller": caller, "tags": ["recorded"],
                                  "steps": self.steps}  # fmt: skip
        if end is not None:
            script["expect_end"] = end.value
        return script


def dump_script(script: dict[str, Any]) -> str:
    """A recorded call script as YAML text, keys in double quotes."""
    return yaml.dump(script, Dumper=_ScriptDumper, allow_unicode=True, sort_keys=False)
