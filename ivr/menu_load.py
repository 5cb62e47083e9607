"""Load a menu YAML and the prompt file it names; check it once, loudly, at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ivr.errors import MenuError
from ivr.menu import (
    REPEAT,
    Field,
    Key,
    Limits,
    Menu,
    Node,
    NodeType,
    Service,
    placeholders,
)
from ivr.prompt_load import load_language
from ivr.readback import READERS
from ivr.script_files import UniqueKeyLoader

_NODE_KEYS = {"type", "prompt", "options", "next", "field", "service", "requires_identity",
              "timeout", "switch"}  # fmt: skip
_NEEDS_NEXT = {NodeType.SAY, NodeType.SERVICE, NodeType.LANGUAGE}
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


class _UniqueKeyLoader(UniqueKeyLoader):
    """The call scripts' duplicate-refusing safe loader, failing with a MenuError."""

    def duplicate(self, key: Any, line: int) -> Exception:
        """The error for a key seen twice."""
        return MenuError(f"{self.name}:{line}: duplicate key {key!r}")


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML file safely into a mapping, naming the file on any error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise MenuError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    loader = _UniqueKeyLoader(text)
    loader.name = str(path)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise MenuError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise MenuError(f"{path}: expected a mapping at the top level")
    return data


def load_menu(path: str | Path) -> Menu:
    """Load and check a menu file and its prompt files; any problem names file and key."""
    path = Path(path).resolve()
    data = read_yaml(path)
    default = data.get("language", "zh-CN")
    languages = {
        code: load_language(file, code, read_yaml(file))
        for code, file in _prompt_files(path, data.get("prompts"), default).items()
    }
    if default not in languages:
        raise MenuError(f"{path}: language: {default!r} has no prompt file under `prompts`")
    nodes = _load_nodes(path, data.get("nodes"))
    menu = Menu(
        name=str(data.get("name", path.stem)),
        language=default,
        start=_node_ref(path, "start", data.get("start"), nodes),
        identify=_node_ref(path, "identify", data.get("identify"), nodes),
        limits=_load_limits(path, data.get("limits") or {}),
        nodes=MappingProxyType(nodes),
        languages=MappingProxyType(languages),
        source=path,
    )
    _check_graph(path, menu)
    _check_languages(path, menu)
    return menu


def _prompt_files(path: Path, raw: Any, default: Any) -> dict[str, Path]:
    """The prompt file of each language: one file name, or a mapping of language to file."""
    if isinstance(raw, str) and isinstance(default, str):
        raw = {default: raw}
    if not isinstance(raw, dict) or not raw:
        raise MenuError(
            f"{path}: prompts: name the prompt file of each language (e.g. zh-CN: zh-CN.yaml)"
        )
    files = {}
    for code, name in raw.items():
        if not isinstance(name, str) or not _LANGUAGE.fullmatch(str(code)):
            raise MenuError(f"{path}: prompts.{code}: expected a language code and a file name")
        files[str(code)] = path.parent / name
    return files


def _load_limits(path: Path, data: Any) -> Limits:
    """Read the failure limits, each a whole number of at least 1."""
    if not isinstance(data, dict):
        raise MenuError(f"{path}: limits: expected a mapping")
    values = {}
    for key, value in data.items():
        if key not in Limits.__dataclass_fields__:
            raise MenuError(f"{path}: limits.{key}: unknown limit")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise MenuError(f"{path}: limits.{key}: expected a whole number of at least 1")
        values[key] = value
    return Limits(**values)


def _load_nodes(path: Path, data: Any) -> dict[str, Node]:
    """Build every node from the `nodes` mapping."""
    if not isinstance(data, dict) or not data:
        raise MenuError(f"{path}: nodes: expected a mapping of node name to node")
    return {str(name): _load_node(path, str(name), raw) for name, raw in data.items()}


def _enum(path: Path, where: str, kind: type, value: Any) -> Any:
    """Convert a YAML value to an enum member, naming the allowed values on failure."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise MenuError(f"{path}: {where}: {value!r} is not one of {allowed}") from None


def _load_node(path: Path, name: str, raw: Any) -> Node:
    """Build one node, checking its keys and the fields its type needs."""
    where = f"nodes.{name}"
    if not isinstance(raw, dict):
        raise MenuError(f"{path}: {where}: expected a mapping")
    extra = set(raw) - _NODE_KEYS
    if extra:
        raise MenuError(f"{path}: {where}.{sorted(extra)[0]}: unknown key")
    kind = _enum(path, f"{where}.type", NodeType, raw.get("type"))
    raw_options = raw.get("options") or {}
    if not isinstance(raw_options, dict):
        raise MenuError(f"{path}: {where}.options: expected a mapping of key to target")
    options = {}
    for key, target in raw_options.items():
        options[_enum(path, f"{where}.options", Key, str(key))] = str(target)
    timeout = raw.get("timeout", 5)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 60:
        raise MenuError(f"{path}: {where}.timeout: expected whole seconds from 1 to 60")
    node = Node(
        name=name,
        type=kind,
        prompts=_node_prompts(path, where, raw.get("prompt")),
        options=MappingProxyType(options),
        next=raw.get("next"),
        field=_enum(path, f"{where}.field", Field, raw["field"]) if "field" in raw else None,
        service=_enum(path, f"{where}.service", Service, raw["service"])
        if "service" in raw
        else None,
        requires_identity=bool(raw.get("requires_identity", False)),
        timeout=timeout,
        switch=MappingProxyType(_switch(path, where, raw.get("switch") or {})),
    )
    _check_node_shape(path, where, node)
    return node


def _node_prompts(path: Path, where: str, raw: Any) -> tuple[str, ...]:
    """A node's prompt: one prompt name, or a list spoken in order."""
    names = [raw] if isinstance(raw, str) else raw if raw is not None else []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise MenuError(f"{path}: {where}.prompt: expected a prompt name or a list of names")
    return tuple(names)


def _switch(path: Path, where: str, raw: Any) -> dict[str, str]:
    """A language node's switch: the language a call moves to, by the one it is in."""
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise MenuError(f"{path}: {where}.switch: expected a mapping of language to language")
    return {str(k): v for k, v in raw.items()}


def _check_node_shape(path: Path, where: str, node: Node) -> None:
    """Check that a node has exactly what its type needs."""
    needs_prompt = node.type in {NodeType.SAY, NodeType.MENU, NodeType.INPUT, NodeType.HANGUP}
    if needs_prompt and not node.prompts:
        raise MenuError(f"{path}: {where}.prompt: a {node.type} node needs a prompt")
    if node.type == NodeType.MENU and not node.options:
        raise MenuError(f"{path}: {where}.options: a menu needs at least one option")
    if node.type != NodeType.MENU and node.options:
        raise MenuError(f"{path}: {where}.options: only a menu node has options")
    if node.type in _NEEDS_NEXT and not node.next:
        raise MenuError(f"{path}: {where}.next: a {node.type} node needs `next`")
    if node.type == NodeType.INPUT and node.field is None:
        raise MenuError(f"{path}: {where}.field: an input node needs `field` (id or pin)")
    if node.type == NodeType.INPUT and node.field == Field.ID and not node.next:
        raise MenuError(f"{path}: {where}.next: the ID input needs `next` (the PIN input)")
    if (node.type == NodeType.LANGUAGE) != bool(node.switch):
        raise MenuError(f"{path}: {where}.switch: only a language node has, and needs, `switch`")
    if node.type == NodeType.SERVICE and node.service is None:
        raise MenuError(f"{path}: {where}.service: a service node needs `service`")
    if node.type == NodeType.SERVICE and not node.requires_identity:
        raise MenuError(
            f"{path}: {where}.requires_identity: a service node reads account data, "
            "so it must be `true`"
        )


def _node_ref(path: Path, where: str, name: Any, nodes: dict[str, Node]) -> str:
    """Check that a reference names an existing node."""
    if name not in nodes:
        raise MenuError(f"{path}: {where}: unknown target {name!r}")
    return str(name)


def _check_graph(path: Path, menu: Menu) -> None:
    """Check every target and prompt reference, and the identity flow's shape."""
    for node in menu.nodes.values():
        where = f"nodes.{node.name}"
        for key, target in node.options.items():
            if target != REPEAT:
                _node_ref(path, f"{where}.options[{key.value!r}]", target, dict(menu.nodes))
        if node.next is not None:
            _node_ref(path, f"{where}.next", node.next, dict(menu.nodes))
        for code, language in menu.languages.items():
            for name in node.prompts:
                if name not in language.prompts:
                    raise MenuError(
                        f"{language.source}: prompts.{name}: missing in {code}"
                        f" (nodes.{node.name}.prompt in {path.name} speaks it)"
                    )
                if placeholders(language.prompts[name].text):
                    raise MenuError(
                        f"{path}: {where}.prompt: a node prompt cannot have placeholders"
                        f" ({name!r} in {language.source.name})"
                    )
    first = menu.nodes[menu.identify]
    if first.field != Field.ID or menu.nodes[first.next or ""].field != Field.PIN:
        raise MenuError(f"{path}: identify: must name an id input whose `next` is a pin input")
    if menu.nodes[menu.start].requires_identity:
        raise MenuError(f"{path}: start: the first node cannot require identity")


def _check_languages(path: Path, menu: Menu) -> None:
    """Every language has every prompt and a number reader; voices and switches are known."""
    every = {name for language in menu.languages.values() for name in language.prompts}
    for code, language in menu.languages.items():
        missing = sorted(every - set(language.prompts))
        if missing:
            raise MenuError(
                f"{language.source}: prompts.{missing[0]}: missing in {code}"
                " (another language of the menu has it)"
            )
        if code.split("-")[0] not in READERS:
            raise MenuError(
                f"{path}: prompts.{code}: no reader for amounts and dates in this language"
                f" (there are: {', '.join(sorted(READERS))})"
            )
        for name, prompt in language.prompts.items():
            if prompt.lang not in menu.languages:
                raise MenuError(
                    f"{language.source}: prompts.{name}.lang: {prompt.lang!r} is not one of"
                    f" this menu's languages ({', '.join(menu.languages)})"
                )
    for node in menu.nodes.values():
        for old, new in node.switch.items():
            if old not in menu.languages or new not in menu.languages:
                raise MenuError(
                    f"{path}: nodes.{node.name}.switch: {old} -> {new}: use the menu's languages"
                    f" ({', '.join(menu.languages)})"
                )
