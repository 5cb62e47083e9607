"""The lint's speech rules: phrases a menu cannot tell apart, options no one can say, and
an ID or PIN prompt that would listen. They read the engine's own speech edges
(ivr.core.edges.spoken), so they judge exactly what a caller's phrase can reach.

- `phrase-clash` (error): two places a phrase said at one menu may lead share a phrase, in
  characters or in pinyin: the engine could only call it a tie, every time.
- `unspoken-option` (warning): a listening menu has an option with no phrase in a language.
- `speech-input` (error): an input node set to listen (`speech: true`); an ID or a PIN is
  only ever keyed, and a PIN must never be spoken.
- `missing-prompt`, `menu`: a listening menu's prompts in every language; phrases only in
  the menu's languages.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Protocol

from ivr.core.edges import listens, phrases, spoken
from ivr.core.model import REPEAT, SPEECH_PROMPTS, Menu, Node, NodeType
from ivr.core.phrases import clash


class Linter(Protocol):
    """What the rules need of a lint run (ivr.menu.lint)."""

    menu: Menu

    def add(self, rule: str, where: str, message: str, hint: str = "",
            file: Path | None = None, warning: bool = False) -> None:  # fmt: skip
        """Note one problem."""

    def prompt_file(self, code: str, name: str) -> tuple[Path, str]:
        """Where a language writes a prompt."""


def speech_rules(lint: Linter) -> None:
    """Every speech rule, in order."""
    menu = lint.menu
    for node in menu.nodes.values():
        if node.type == NodeType.INPUT and node.listen:
            lint.add("speech-input", f"nodes.{node.name}.speech", "an ID or PIN prompt must"
                     " not listen for speech: it is keyed, and a PIN is never said aloud",
                     "drop `speech: true` from the input")  # fmt: skip
        _languages(lint, node)
        if listens(menu, node):
            _clashes(lint, node)
            _unspoken(lint, node)
    if menu.speech.enabled:
        _prompts(lint)


def _languages(lint: Linter, node: Node) -> None:
    """Phrases are given only in the menu's languages."""
    menu = lint.menu
    given = [(f"nodes.{node.name}.say", node.say)]
    given += [
        (f"nodes.{node.name}.options[{k.value!r}].say", s) for k, s in node.option_say.items()
    ]
    if node.name == menu.start:
        given.append(("speech.repeat", menu.speech.repeat))
    for where, said in given:
        for lang in said:
            if lang not in menu.languages:
                lint.add("menu", f"{where}.{lang}", f"{lang!r} is not one of this menu's"
                         f" languages ({', '.join(menu.languages)})")  # fmt: skip


def _clashes(lint: Linter, node: Node) -> None:
    """No phrase said at `node` may lead to two places."""
    menu = lint.menu
    places = [str(edge.target) for edge in spoken(menu, node)]
    for lang in menu.languages:
        for one, two in combinations(places, 2):
            pair = next(((a, b) for a in phrases(menu, node, one, lang)
                         for b in phrases(menu, node, two, lang) if clash(a, b)), None)  # fmt: skip
            if pair is not None:
                named = [REPEAT if p == node.name else p for p in (one, two)]
                lint.add("phrase-clash", f"nodes.{node.name}", f"{pair[0]!r} ({named[0]}) and"
                         f" {pair[1]!r} ({named[1]}) sound alike in {lang}: said at"
                         f" {node.name}, neither could be chosen",
                         "drop one of them, or make them differ")  # fmt: skip


def _unspoken(lint: Linter, node: Node) -> None:
    """Each option of a listening menu has a phrase in every language."""
    menu = lint.menu
    for key, target in node.options.items():
        place = node.name if target == REPEAT else target
        if place not in menu.nodes:
            continue  # reported as an unknown target
        for lang in menu.languages:
            if not phrases(menu, node, place, lang):
                where = "speech.repeat" if target == REPEAT else f"nodes.{target}.say"
                lint.add("unspoken-option", f"nodes.{node.name}.options[{key.value!r}]",
                         f"option {key.value} of nodes.{node.name} ({target}) has no phrase in"
                         f" {lang}: a caller can only key it", f"add {lang} phrases to {where}",
                         warning=True)  # fmt: skip


def _prompts(lint: Linter) -> None:
    """A menu that listens says, in every language, that it did not understand."""
    menu = lint.menu
    for code, language in menu.languages.items():
        for name in SPEECH_PROMPTS:
            if name not in language.prompts:
                path, _ = lint.prompt_file(code, name)
                lint.add("missing-prompt", f"prompts.{name}", f"missing in {code} (the menu"
                         " listens for speech)", f"add `{name}:` with its {code} text",
                         file=path)  # fmt: skip
