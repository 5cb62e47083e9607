"""Lint a loaded menu: every problem at once, each with its file, line and a fix hint.

Rules (the `rule` of each Problem): unknown-target, unreachable, dead-end, duplicate-key
(found while reading, ivr.menu_source), reserved-key, missing-prompt, unannounced-key,
and menu for the rest of what the engine relies on. Unreachable nodes and unannounced keys
are warnings: the hotline still works, but a caller cannot find or cannot hear something.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from pathlib import Path

from ivr.menu import REPEAT, SYSTEM_PROMPTS, Field, Key, Menu, Node, NodeType, placeholders
from ivr.menu_announce import announces, spoken_key
from ivr.menu_source import Problem, Severity, YamlFile
from ivr.readback import READERS

_PASSING = (NodeType.SAY, NodeType.SERVICE, NodeType.LANGUAGE)  # speak, then go on by `next`


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
                 _engine_needs, _unreachable, _unannounced):  # fmt: skip
        rule(linter)
    return linter.problems


def _targets(node: Node) -> Iterator[tuple[str, str]]:
    """(key path, target) of every link out of a node: its options, then its `next`."""
    where = f"nodes.{node.name}"
    for key, target in node.options.items():
        if target != REPEAT:
            yield f"{where}.options[{key.value!r}]", target
    if node.next is not None:
        yield f"{where}.next", node.next


def _unknown_targets(lint: _Linter) -> None:
    """Every link names a node that exists."""
    menu = lint.menu
    links = [("start", menu.start), ("identify", menu.identify)]
    links += [link for node in menu.nodes.values() for link in _targets(node)]
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
        if node.type in _PASSING and not node.next:
            lint.add("dead-end", f"{where}.next", f"a {node.type} node needs `next`",
                     "name the node the call goes on to")  # fmt: skip
        if node.type == NodeType.INPUT and node.field == Field.ID and not node.next:
            lint.add("dead-end", f"{where}.next", "the ID input needs `next` (the PIN input)",
                     "name the pin input node")  # fmt: skip
        if node.type == NodeType.MENU and all(t == REPEAT for t in node.options.values()):
            said = "a menu needs at least one option" if not node.options else "only repeats"
            lint.add("dead-end", f"{where}.options", f"{said}: the caller cannot leave it",
                     "add an option that leads to another node")  # fmt: skip
    if _leads_to_agent(lint.menu, lint.menu.start):
        lint.add("dead-end", "start", "the call reaches the agent before any menu: outside agent"
                 " hours it is sent back to the start, and round again forever",
                 "put a menu between the start and the agent")  # fmt: skip
    for name in _loops(lint.menu):
        lint.add(
            "dead-end",
            f"nodes.{name}.next",
            "loops back to itself without waiting for a key",
            "end the `next` chain at a menu, input, agent or hangup node",
        )


def _loops(menu: Menu) -> list[str]:
    """The first node of each chain of say/service/language nodes that comes back round."""
    found: dict[frozenset[str], str] = {}
    for name, node in menu.nodes.items():
        seen, current = [name], node
        while current.type in _PASSING and current.next in menu.nodes:
            if current.next in seen:
                if current.next == name:  # each loop once, named by its first node
                    found.setdefault(frozenset(seen), name)
                break
            seen.append(current.next)
            current = menu.nodes[current.next]
    return list(found.values())


def _parents(menu: Menu) -> dict[str, set[str]]:
    """For each menu node, the menus one level up: those with a key leading down to it."""
    up: dict[str, set[str]] = {}
    for node in menu.nodes.values():
        if node.type != NodeType.MENU:
            continue
        for key, target in node.options.items():
            below = _next_menu(menu, target) if key not in (Key.HASH, Key.STAR) else None
            if below is not None and below != node.name:
                up.setdefault(below, set()).add(node.name)
    return up


def _leads_to_agent(menu: Menu, name: str) -> bool:
    """True when a call at `name` reaches an agent node along `next` links, before a menu."""
    seen: set[str] = set()
    while name in menu.nodes and name not in seen:
        seen.add(name)
        node = menu.nodes[name]
        if node.type == NodeType.AGENT:
            return True
        if node.type in (NodeType.MENU, NodeType.INPUT, NodeType.HANGUP):
            return False
        name = node.next or ""
    return False


def _next_menu(menu: Menu, name: str) -> str | None:
    """The menu a call reaches from `name` along `next` links (itself, when a menu)."""
    seen: set[str] = set()
    while name in menu.nodes and name not in seen:
        seen.add(name)
        node = menu.nodes[name]
        if node.type == NodeType.MENU:
            return name
        name = node.next or ""
    return None


def _reserved_keys(lint: _Linter) -> None:
    """In menus, * repeats, # goes back one level and 0 reaches an agent, or they are unused."""
    menu, parents = lint.menu, _parents(lint.menu)
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
        if zero in menu.nodes and not _leads_to_agent(menu, zero):
            lint.add(
                "reserved-key",
                f"{where}['0']",
                f"0 leads to {zero!r}, but 0 is for a human agent (人工服务)",
                "point 0 at an agent node, or use another digit",
            )
        if hash_ is not None and hash_ in menu.nodes:
            up = parents.get(node.name, set())
            if _next_menu(menu, hash_) not in up:
                level = f"one of {', '.join(sorted(up))}" if up else "nothing: it is a top menu"
                lint.add("reserved-key", f"{where}['#']", f"# leads to {hash_!r}, but # goes back"
                         f" one level (返回上一级); the level above is {level}",
                         "point # at the menu above, or drop it")  # fmt: skip


def _missing_prompts(lint: _Linter) -> None:
    """Every language has every prompt: the engine's own, the nodes' and the other languages'."""
    menu = lint.menu
    every = {name for language in menu.languages.values() for name in language.prompts}
    spoken = {name: node for node in menu.nodes.values() for name in node.prompts}
    for code, language in menu.languages.items():
        for name in sorted((every | set(SYSTEM_PROMPTS) | set(spoken)) - set(language.prompts)):
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


def depths(menu: Menu) -> dict[str, int]:
    """Each node a call can reach, by its distance from the start (breadth first).

    Links are keys and `next`; a menu with identity-gated nodes also reaches `identify`.
    """
    depth, queue = {menu.start: 0}, [menu.start]
    if any(node.requires_identity for node in menu.nodes.values()):
        depth.setdefault(menu.identify, 1)  # the engine sends an unverified caller there
        queue.append(menu.identify)
    for name in queue:
        for _, target in _targets(menu.nodes[name]) if name in menu.nodes else ():
            if target not in depth:
                depth[target] = depth[name] + 1
                queue.append(target)
    return depth


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
    for node in (n for n in menu.nodes.values() if n.type == NodeType.MENU and n.prompts):
        for code, language in menu.languages.items():
            texts = [language.prompts[p].text for p in node.prompts if p in language.prompts]
            for key in node.options:
                if not any(announces(text, key) for text in texts):
                    path, where = lint.prompt_file(code, node.prompts[0])
                    lint.add("unannounced-key", where, f"option {key.value} of nodes.{node.name}"
                             f" is never announced in {code}", f"say {spoken_key(key, code)}"
                             f" in one of its prompts ({', '.join(node.prompts)})",
                             file=path, warning=True)  # fmt: skip
