"""Lint a loaded menu: every problem at once, each with its file, line and a fix hint.

Rules (the `rule` of each Problem): unknown-target, unreachable, dead-end, duplicate-key
(found while reading, ivr.menu.source), reserved-key, missing-prompt, unannounced-key,
the speech rules (ivr.menu.lint_speech: phrase-clash, unspoken-option, speech-input), and
menu for the rest of what the engine relies on. Unreachable nodes and unannounced keys
are warnings: the hotline still works, but a caller cannot find or cannot hear something.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from ivr.core.edges import keyed, waits
from ivr.core.model import MORE, REPEAT, SYSTEM_PROMPTS, Field, Key, Menu, NodeType, placeholders
from ivr.core.readback import READERS
from ivr.menu.announce import announces, spoken_key
from ivr.menu.lint_speech import speech_rules
from ivr.menu.paths import (
    PASSING,
    ancestors,
    chain_end,
    depths,
    leads_to_agent,
    loops,
    next_menu,
    parents,
    targets,
)
from ivr.menu.source import Problem, Severity, YamlFile


class _Linter:
    """One lint run: the menu, the files it was read from, and the problems found."""

    def __init__(self, menu: Menu, files: Sequence[YamlFile]) -> None:
        """Index the files by path, so that each problem finds its line."""
        self.menu = menu
        self.files = {file.path: file for file in files}
        self.problems: list[Problem] = []

    def add(self, rule: str, where: str, message: str, hint: str = "",
            file: Path | None = None, warning: bool = False) -> None:  # fmt: skip
        """Note one problem at a key of a file (the menu file unless named)."""
        src = self.files.get(file or self.menu.source)
        severity = Severity.WARNING if warning else Severity.ERROR
        line = src.line(where) if src else None
        self.problems.append(
            Problem(file or self.menu.source, line, where, message, hint, rule, severity)
        )

    def prompt_file(self, code: str, name: str) -> tuple[Path, str]:
        """The file of a language where prompt `name` is written (or should be), and its key."""
        language = self.menu.languages[code]
        for path in reversed(language.files or (language.source,)):
            src = self.files.get(path)
            if src and ("prompts", name) in src.lines:
                return path, f"prompts.{name}"
        return language.source, "prompts"


def lint(menu: Menu, files: Sequence[YamlFile]) -> list[Problem]:
    """Every problem of a menu, errors and warnings, in the order of the rules."""
    linter = _Linter(menu, files)
    for rule in (_unknown_targets, _dead_ends, _reserved_keys, _missing_prompts,
                 _engine_needs, _unreachable, _unannounced, speech_rules):  # fmt: skip
        rule(linter)
    return linter.problems


def _unknown_targets(lint: _Linter) -> None:
    """Every link names a node that exists."""
    menu = lint.menu
    links = [("start", menu.start), ("identify", menu.identify)]
    links += [link for node in menu.nodes.values() for link in targets(menu, node)]
    for where, target in links:
        if target not in menu.nodes:
            close = difflib.get_close_matches(target, list(menu.nodes), n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else "use one of: " + ", ".join(menu.nodes)
            )
            lint.add("unknown-target", where, f"unknown target {target!r}", hint)


def _dead_ends(lint: _Linter) -> None:
    """Every node has a way out, and no chain of spoken nodes loops without waiting."""
    for node in lint.menu.nodes.values():
        where = f"nodes.{node.name}"
        if node.type in PASSING and not waits(node) and not node.next:
            lint.add("dead-end", f"{where}.next", f"a {node.type} node needs `next`",
                     "name the node the call goes on to")  # fmt: skip
        if node.type == NodeType.INPUT and node.field == Field.ID and not node.next:
            lint.add("dead-end", f"{where}.next", "the ID input needs `next` (the PIN input)",
                     "name the pin input node")  # fmt: skip
        stays = all(t in (REPEAT, MORE) for t in node.options.values())
        if keyed(node) and stays:
            said = "a menu needs at least one option" if not node.options else "only repeats"
            lint.add("dead-end", f"{where}.options", f"{said}: the caller cannot leave it",
                     "add an option that leads to another node")  # fmt: skip
    if leads_to_agent(lint.menu, lint.menu.start):
        lint.add("dead-end", "start", "the call reaches the agent before any menu: outside agent"
                 " hours it is sent back to the start, and round again forever",
                 "put a menu between the start and the agent")  # fmt: skip
    menu = lint.menu
    gate = {menu.identify, getattr(menu.nodes.get(menu.identify), "next", None)}
    if chain_end(menu, menu.start) in gate:
        lint.add(
            "dead-end",
            "start",
            "the call reaches the identity check before any menu: once"
            " verified it has no service to go on to, and is sent back to the start",
            "put a menu first; nodes that need the caller's ID set requires_identity",
        )
    for name in loops(lint.menu):
        lint.add(
            "dead-end",
            f"nodes.{name}.next",
            "loops back to itself without waiting for a key",
            "end the `next` chain at a menu, input, agent or hangup node",
        )


def _reserved_keys(lint: _Linter) -> None:
    """In menus, * repeats, # goes back one level and 0 reaches an agent, or they are unused."""
    menu, above = lint.menu, parents(lint.menu)
    for node in menu.nodes.values():
        where = f"nodes.{node.name}.options"
        star, zero, hash_ = (node.options.get(k) for k in (Key.STAR, Key.ZERO, Key.HASH))
        if star is not None and star != REPEAT:
            lint.add(
                "reserved-key",
                f"{where}['*']",
                f"* leads to {star!r}, but * repeats the menu (重听) on every hotline",
                'write `"*": repeat`, and move this to a digit',
            )
        if zero in menu.nodes and not leads_to_agent(menu, zero):
            lint.add(
                "reserved-key",
                f"{where}['0']",
                f"0 leads to {zero!r}, but 0 is for a human agent (人工服务)",
                "point 0 at an agent node, or use another digit",
            )
        if hash_ is not None and hash_ in menu.nodes:
            up, back = above.get(node.name, set()), next_menu(menu, hash_)
            if back not in up:
                level = f"one of {', '.join(sorted(up))}" if up else "nothing: it is a top menu"
                lint.add(
                    "reserved-key",
                    f"{where}['#']",
                    f"# leads to {hash_!r}, but # goes back"
                    f" one level (返回上一级); the level above is {level}",
                    "point # at the menu above, or drop it",
                    warning=back in ancestors(above, node.name),
                )  # back, if not one level


def _missing_prompts(lint: _Linter) -> None:
    """Every language has every prompt: the engine's own, the nodes' and the other languages'."""
    menu = lint.menu
    every = {name for language in menu.languages.values() for name in language.prompts}
    spoken = {name: node for node in menu.nodes.values() for name in node.prompts}
    for name in sorted(set(spoken) - every):  # in no file at all: a slip in the menu, likely
        close = difflib.get_close_matches(name, sorted(every), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"add `{name}:` to each prompt file"
        lint.add("missing-prompt", f"nodes.{spoken[name].name}.prompt",
                 f"no prompt file has {name!r}", hint)  # fmt: skip
    for code, language in menu.languages.items():
        for name in sorted((every | set(SYSTEM_PROMPTS)) - set(language.prompts)):
            why = (f"nodes.{spoken[name].name}.prompt in {menu.source.name} speaks it"
                   if name in spoken else "the engine speaks it" if name in SYSTEM_PROMPTS
                   else "another language of the menu has it")  # fmt: skip
            path, _ = lint.prompt_file(code, name)
            lint.add("missing-prompt", f"prompts.{name}", f"missing in {code} ({why})",
                     f"add `{name}:` with its {code} text", file=path)  # fmt: skip


def _engine_needs(lint: _Linter) -> None:
    """What the engine relies on: the identity flow, prompts, languages and readers."""
    menu = lint.menu
    first = menu.nodes.get(menu.identify)
    then = menu.nodes.get(first.next or "") if first else None
    if first and (first.field != Field.ID or then is None or then.field != Field.PIN):
        lint.add("menu", "identify", "must name an id input whose `next` is a pin input")
    if any(node is not None and node.requires_identity for node in (first, then)):
        lint.add("menu", "identify", "the identity check cannot itself require identity: the"
                 " caller would be sent to it again and again",
                 "drop requires_identity from the ID and PIN inputs")  # fmt: skip
    if menu.start in menu.nodes and menu.nodes[menu.start].requires_identity:
        lint.add("menu", "start", "the first node cannot require identity",
                 "start at a welcome or a menu open to every caller")  # fmt: skip
    for node in menu.nodes.values():
        for code, name in ((c, n) for c in menu.languages for n in node.prompts):
            prompt = menu.languages[code].prompts.get(name)
            if prompt is not None and placeholders(prompt.text):
                lint.add(
                    "menu",
                    f"nodes.{node.name}.prompt",
                    "a node prompt cannot have"
                    f" placeholders ({name!r} in {menu.languages[code].source.name})",
                )
        for old, new in node.switch.items():
            if old not in menu.languages or new not in menu.languages:
                lint.add("menu", f"nodes.{node.name}.switch", f"{old} -> {new}: use the"
                         f" menu's languages ({', '.join(menu.languages)})")  # fmt: skip
    _languages(lint)


def _languages(lint: _Linter) -> None:
    """Each language has a number reader, and each prompt's voice is one of the menu's."""
    menu = lint.menu
    for code, language in menu.languages.items():
        if code.split("-")[0] not in READERS:
            lint.add("menu", f"prompts.{code}", "no reader for amounts and dates in this"
                     f" language (there are: {', '.join(sorted(READERS))})")  # fmt: skip
        for name, prompt in language.prompts.items():
            if prompt.lang not in menu.languages:
                path, _ = lint.prompt_file(code, name)
                lint.add(
                    "menu",
                    f"prompts.{name}.lang",
                    f"{prompt.lang!r} is not one of"
                    f" this menu's languages ({', '.join(menu.languages)})",
                    file=path,
                )


def _unreachable(lint: _Linter) -> None:
    """Every node can be reached from the start (a warning: it is dead weight, or a slip)."""
    found = depths(lint.menu)
    for name in lint.menu.nodes:
        if name not in found:
            lint.add(
                "unreachable",
                f"nodes.{name}",
                "no call can reach this node",
                "link it from a menu option or a `next`, or delete it",
                warning=True,
            )


def _unannounced(lint: _Linter) -> None:
    """Each menu option's key is announced by the menu's prompt, in every language."""
    menu = lint.menu
    for node in (n for n in menu.nodes.values() if keyed(n) and n.prompts):
        for code, language in menu.languages.items():
            if not all(p in language.prompts for p in node.prompts):
                continue  # reported as missing; every key would look unannounced
            texts = [language.prompts[p].text for p in node.prompts]
            for key in node.options:
                if not any(announces(text, key) for text in texts):
                    path, where = lint.prompt_file(code, node.prompts[0])
                    lint.add("unannounced-key", where, f"option {key.value} of nodes.{node.name}"
                             f" is never announced in {code}", f"say {spoken_key(key, code)}"
                             f" in one of its prompts ({', '.join(node.prompts)})",
                             file=path, warning=True)  # fmt: skip
