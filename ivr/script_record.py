"""Record a terminal call as a call script: the steps taken, with every keyed PIN a variable."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

from ivr.sim_types import EndState

PLACEHOLDER = re.compile(r"\[play:[^\]]*\]")  # a <Play> whose audio says no text
SENTENCE_END = re.compile(r"[。！？；]|[.!?;](?=\s|$)")
# A PIN is six digits keyed on their own: between line start or # and # or line end.
PIN_KEYS = re.compile(r"(?:(?<=^)|(?<=#))[0-9]{6}(?=#|$)")


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
        self._pins: dict[str, str] = {}  # keyed PIN -> its variable name, held in memory only

    @property
    def variables(self) -> list[str]:
        """The variables standing for PINs, in the order first keyed."""
        return list(self._pins.values())

    def heard(self, utterances: list[str]) -> None:
        """Expect a distinctive part of what the last action made the caller hear."""
        expected = first_sentence(utterances)
        if expected:
            self.steps.append({"expect": expected})

    def press(self, keys: str) -> None:
        """Record a key press, never with a PIN in it."""
        self.steps.append({"press": _Keys(PIN_KEYS.sub(self._variable, keys))})

    def _variable(self, match: re.Match[str]) -> str:
        """`${PIN}` for the first PIN keyed, `${PIN2}` for a different one, and so on."""
        suffix = str(len(self._pins) + 1) if self._pins else ""
        name = self._pins.setdefault(match[0], "PIN" + suffix)
        return "${" + name + "}"

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
