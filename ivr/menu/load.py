"""Load a menu YAML and the prompt files it names; check it once, loudly, at start-up.

Reading is fail-first: a file that is not the right shape stops at its first problem.
The menu that reads is then linted (ivr.menu.lint), which reports every problem at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ivr.core.model import MORE, Field, Key, Limits, Menu, Node, NodeType, Service
from ivr.errors import MenuError
from ivr.menu.lint import lint
from ivr.menu.prompts import load_language
from ivr.menu.source import (
    Problem,
    Reader,
    Severity,
    YamlFile,
    menu_error,
    read_text,
    read_yaml,
)
from ivr.menu.speech import load_listen, load_option, load_phrases, load_speech

_NODE_KEYS = {"type", "prompt", "options", "next", "field", "service", "requires_identity",
              "timeout", "switch", "say", "speech"}  # fmt: skip
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@dataclass(frozen=True)
class Checked:
    """A menu file checked: the menu (None when it could not be read) and its problems."""

    path: Path
    menu: Menu | None
    problems: list[Problem] = field(default_factory=list)
    files: tuple[Path, ...] = ()  # every file read: the menu and its prompt files

    @property
    def errors(self) -> list[Problem]:
        """The problems that stop the menu from being served."""
        return [p for p in self.problems if p.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that are only reported."""
        return [p for p in self.problems if p.severity == Severity.WARNING]


def check_menu(path: str | Path, read: Reader = read_text) -> Checked:
    """Read a menu file and its prompt files, and lint them: every problem found.

    `read` gives each file's text; a stored menu version reads its own copies.
    """
    path = Path(path).resolve()
    files: list[YamlFile] = []
    try:
        menu = _read_menu(path, files, read)
        problems = [d for file in files for d in file.duplicates] + lint(menu, files)
    except MenuError as exc:
        duplicates = [d for file in files for d in file.duplicates]
        found = getattr(exc, "problems", None) or [Problem(path, None, "", str(exc))]
        return Checked(path, None, [*duplicates, *found], tuple(f.path for f in files))
    except Exception as exc:  # a shape no rule foresaw: reported, never a crash of serve
        message = f"cannot be loaded: {type(exc).__name__}: {exc}"
        found = [Problem(path, None, "", message, "check the types of its values")]
        return Checked(path, None, found, tuple(f.path for f in files))
    return Checked(path, menu, problems, tuple(f.path for f in files))


def load_menu(path: str | Path) -> Menu:
    """Load and check a menu file and its prompt files; any error names file, line and key."""
    checked = check_menu(path)
    if checked.errors or checked.menu is None:
        raise menu_error(checked.errors)
    return checked.menu


def _read_menu(path: Path, files: list[YamlFile], read: Reader) -> Menu:
    """Build the Menu from its file and its prompt files, each file added to `files`."""
    src = read_yaml(path, read)
    files.append(src)
    data = src.data
    default = data.get("language", "zh-CN")
    if not isinstance(default, str) or not _LANGUAGE.fullmatch(default):
        raise src.fail("language", "expected the language calls start in", "e.g. `language: zh-CN`")
    languages = {}
    for code, paths in _prompt_files(src, data.get("prompts"), default).items():
        parsed = [read_yaml(file, read) for file in paths]
        files.extend(parsed)
        languages[code] = load_language(parsed, code)
    if default not in languages:
        hint = f"add `{default}: <file>` under `prompts`, or use one listed there"
        raise src.fail("language", f"{default!r} has no prompt file under `prompts`", hint)
    return Menu(
        name=str(data.get("name", path.stem)),
        language=default,
        start=_name(src, "start", data.get("start")),
        identify=_name(src, "identify", data.get("identify")),
        limits=_load_limits(src, data.get("limits") or {}),
        nodes=MappingProxyType(_load_nodes(src, data.get("nodes"))),
        languages=MappingProxyType(languages),
        source=path,
        speech=load_speech(src, data.get("speech")),
    )


def _prompt_files(src: YamlFile, raw: Any, default: Any) -> dict[str, list[Path]]:
    """The prompt files of each language: a file, or a list whose later files override."""
    if isinstance(raw, str) and isinstance(default, str):
        raw = {default: raw}
    if not isinstance(raw, dict) or not raw:
        raise src.fail("prompts", "name the prompt file of each language",
                       "write e.g. `prompts: {zh-CN: zh-CN.yaml}`")  # fmt: skip
    files = {}
    for code, names in raw.items():
        names = [names] if isinstance(names, str) else names
        usable = isinstance(names, list) and names and all(isinstance(n, str) for n in names)
        if not usable or not _LANGUAGE.fullmatch(str(code)):
            raise src.fail(f"prompts.{code}", "expected a language code and a file name",
                           "write `zh-CN: zh-CN.yaml`, or a list of files")  # fmt: skip
        files[str(code)] = [src.path.parent / name for name in names]
    return files


def _name(src: YamlFile, where: str, value: Any) -> str:
    """A node name the menu refers to at the top level (lint checks that it exists)."""
    if not isinstance(value, str) or not value:
        raise src.fail(where, "expected the name of a node", f"write `{where}: <node name>`")
    return value


def _load_limits(src: YamlFile, data: Any) -> Limits:
    """Read the failure limits, each a whole number of at least 1."""
    if not isinstance(data, dict):
        raise src.fail("limits", "expected a mapping", "write e.g. `limits: {no_input: 3}`")
    values = {}
    for key, value in data.items():
        if key not in Limits.__dataclass_fields__:
            raise src.fail(f"limits.{key}", "unknown limit",
                           f"use {', '.join(Limits.__dataclass_fields__)}")  # fmt: skip
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise src.fail(f"limits.{key}", "expected a whole number of at least 1")
        values[key] = value
    return Limits(**values)


def _load_nodes(src: YamlFile, data: Any) -> dict[str, Node]:
    """Build every node from the `nodes` mapping."""
    if not isinstance(data, dict) or not data:
        raise src.fail("nodes", "expected a mapping of node name to node")
    return {str(name): _load_node(src, str(name), raw) for name, raw in data.items()}


def _enum(src: YamlFile, where: str, kind: type, value: Any) -> Any:
    """Convert a YAML value to an enum member, naming the allowed values on failure."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise src.fail(where, f"{value!r} is not one of {allowed}") from None


def _load_node(src: YamlFile, name: str, raw: Any) -> Node:
    """Build one node, checking its keys and the fields its type needs."""
    where = f"nodes.{name}"
    if not isinstance(raw, dict):
        raise src.fail(where, "expected a mapping", "give the node at least a `type`")
    extra = set(raw) - _NODE_KEYS
    if extra:
        raise src.fail(f"{where}.{sorted(extra)[0]}", "unknown key",
                       f"a node has {', '.join(sorted(_NODE_KEYS))}")  # fmt: skip
    kind = _enum(src, f"{where}.type", NodeType, raw.get("type"))
    raw_options = raw.get("options") or {}
    if not isinstance(raw_options, dict):
        raise src.fail(f"{where}.options", "expected a mapping of key to target")
    options, option_say = {}, {}
    for k, value in raw_options.items():
        at = f"{where}.options[{str(k)!r}]"
        key = _enum(src, at, Key, str(k))
        options[key], said = load_option(src, at, value)
        if said:
            option_say[key] = said
    timeout = raw.get("timeout", 5)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 60:
        raise src.fail(f"{where}.timeout", "expected whole seconds from 1 to 60")
    node = Node(
        name=name,
        type=kind,
        prompts=_node_prompts(src, where, raw.get("prompt")),
        options=MappingProxyType(options),
        next=_next(src, where, raw.get("next")),
        field=_enum(src, f"{where}.field", Field, raw["field"]) if "field" in raw else None,
        service=_enum(src, f"{where}.service", Service, raw["service"])
        if "service" in raw
        else None,
        requires_identity=_flag(src, f"{where}.requires_identity", raw.get("requires_identity")),
        timeout=timeout,
        switch=MappingProxyType(_switch(src, where, raw.get("switch") or {})),
        say=load_phrases(src, f"{where}.say", raw.get("say")),
        option_say=MappingProxyType(option_say),
        listen=load_listen(src, f"{where}.speech", raw.get("speech")),
    )
    _check_node_shape(src, where, node)
    return node


def _flag(src: YamlFile, where: str, raw: Any) -> bool:
    """A true/false key (YAML's "no" in quotes is text, and text is not false)."""
    if raw is not None and not isinstance(raw, bool):
        raise src.fail(where, f"expected true or false, not {raw!r}")
    return bool(raw)


def _next(src: YamlFile, where: str, raw: Any) -> str | None:
    """A node's `next`: a node name, or absent."""
    if raw is not None and not isinstance(raw, str):
        raise src.fail(f"{where}.next", "expected the name of a node")
    return raw


def _node_prompts(src: YamlFile, where: str, raw: Any) -> tuple[str, ...]:
    """A node's prompt: one prompt name, or a list spoken in order."""
    names = [raw] if isinstance(raw, str) else raw if raw is not None else []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise src.fail(f"{where}.prompt", "expected a prompt name or a list of names")
    return tuple(names)


def _switch(src: YamlFile, where: str, raw: Any) -> dict[str, str]:
    """A language node's switch: the language a call moves to, by the one it is in."""
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise src.fail(f"{where}.switch", "expected a mapping of language to language",
                       "write e.g. `switch: {zh-CN: en-US, en-US: zh-CN}`")  # fmt: skip
    return {str(k): v for k, v in raw.items()}


def _check_node_shape(src: YamlFile, where: str, node: Node) -> None:
    """Check that a node has what its type needs (ways out are the lint's dead-end rule)."""
    needs_prompt = node.type in {NodeType.SAY, NodeType.MENU, NodeType.INPUT, NodeType.HANGUP}
    if needs_prompt and not node.prompts:
        raise src.fail(f"{where}.prompt", f"a {node.type} node needs a prompt",
                       "name a prompt of the prompt files")  # fmt: skip
    paged = node.type == NodeType.SERVICE and node.service == Service.STATEMENT
    if node.type != NodeType.MENU and not paged and node.options:
        raise src.fail(f"{where}.options", "only a menu node, or the statement, has options")
    if paged and node.options and not node.prompts:
        raise src.fail(f"{where}.prompt", "a statement with paging keys needs a prompt",
                       "name the prompt that says the keys, read after each page")  # fmt: skip
    if not paged and MORE in node.options.values():
        raise src.fail(f"{where}.options", f"only the statement's options may lead to {MORE!r}",
                       "use `more` at a `service: statement` node, for its next page")  # fmt: skip
    if node.type == NodeType.INPUT and node.say:
        raise src.fail(f"{where}.say", "an ID or PIN input is keyed, never said: no phrases",
                       "give the phrases to the node the caller asks for")  # fmt: skip
    if node.listen is not None and node.type not in (NodeType.MENU, NodeType.INPUT):
        raise src.fail(f"{where}.speech", "only a menu (or input) node waits for speech")
    if node.type != NodeType.INPUT and node.field is not None:
        raise src.fail(f"{where}.field", "only an input node has `field`")
    if node.type == NodeType.INPUT and node.field is None:
        raise src.fail(f"{where}.field", "an input node needs `field` (id or pin)")
    if (node.type == NodeType.LANGUAGE) != bool(node.switch):
        raise src.fail(f"{where}.switch", "only a language node has, and needs, `switch`")
    if node.type == NodeType.SERVICE and node.service is None:
        raise src.fail(f"{where}.service", "a service node needs `service`",
                       f"use one of {', '.join(s.value for s in Service)}")  # fmt: skip
    if node.type == NodeType.SERVICE and not node.requires_identity:
        raise src.fail(f"{where}.requires_identity",
                       "a service node reads account data, so it must be `true`")  # fmt: skip
