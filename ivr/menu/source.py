"""Menu and prompt YAML as read from disk: the data, the line of every key, and problems.

A problem names its file, its line and its key, and says how to fix it, so that an
operator who edits a menu is told at once and precisely what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from ivr.errors import MenuError

KeyPath = tuple[str, ...]
MAX_DEPTH = 32  # far deeper than any menu; stops a recursive alias
_PART = re.compile(r"\[([^\]]*)\]|([^.\[]+)")  # nodes.main.options['1'] -> nodes, main, …


class Severity(StrEnum):
    """An error stops the menu from being served; a warning is reported only."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a menu: where it is, what it is and how to fix it."""

    file: Path
    line: int | None
    key: str  # the key path, as nodes.main.options['3']
    message: str
    hint: str = ""
    rule: str = "shape"
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        """file:line: key: message (hint), the shape editors and CI logs link to."""
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        key = f" {self.key}:" if self.key else ""
        hint = f" Fix: {self.hint}" if self.hint else ""
        return f"{where}:{key} {self.message}{hint}"


def menu_error(problems: Iterable[Problem]) -> MenuError:
    """A MenuError carrying its problems, its message one line per problem."""
    found = list(problems)
    error = MenuError("\n".join(str(p) for p in found))
    error.problems = found
    return error


@dataclass(frozen=True)
class YamlFile:
    """One parsed YAML file: its data, the line of each key, and any duplicate keys."""

    path: Path
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)
    duplicates: tuple[Problem, ...] = ()

    def line(self, where: str | KeyPath) -> int | None:
        """The line of a key path, or of its nearest parent written in the file."""
        parts = key_path(where) if isinstance(where, str) else where
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return None

    def problem(self, where: str, message: str, hint: str = "", **kind: Any) -> Problem:
        """A problem at a key of this file."""
        return Problem(self.path, self.line(where), where, message, hint, **kind)

    def fail(self, where: str, message: str, hint: str = "") -> MenuError:
        """A MenuError for one problem at a key of this file."""
        return menu_error([self.problem(where, message, hint)])


def key_text(parts: KeyPath) -> str:
    """("nodes", "main", "options", "1") as nodes.main.options['1'], as the lint names keys."""
    text = ""
    for index, part in enumerate(parts):
        keyed = index and parts[index - 1] == "options"
        text += f"[{part!r}]" if keyed else f".{part}" if text else part
    return text


def key_path(where: str) -> KeyPath:
    """nodes.main.options['1'] as ("nodes", "main", "options", "1")."""
    return tuple(
        (bracket.strip("'\"") if bracket is not None and bracket != "" else plain)
        for bracket, plain in _PART.findall(where)
    )


Reader = Callable[[Path], str]  # a file's text: from disk, or from a stored menu version


def read_text(path: Path) -> str:
    """A file's text from disk."""
    return path.read_text(encoding="utf-8")


def read_yaml(path: Path, read: Reader = read_text) -> YamlFile:
    """Read one YAML file safely, with the line of every key; name the file on any error."""
    try:
        text = read(path)
    except OSError as exc:
        raise _whole(path, f"cannot read: {exc.strerror}", "check the file name") from exc
    except UnicodeDecodeError as exc:
        raise _whole(path, f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                     "save the file as UTF-8") from exc  # fmt: skip
    lines: dict[KeyPath, int] = {}
    seen: list[tuple[KeyPath, int]] = []
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:  # before constructing, which flattens `<<` merges in place
            _walk(root, (), lines, seen)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise menu_error([Problem(path, line, "", f"not valid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise _whole(path, "expected a mapping at the top level", "start with `key: value` lines")
    duplicates = tuple(
        Problem(
            path,
            line,
            key_text(key),
            f"duplicate key {key[-1]!r}",
            "keep only one of them",
            rule="duplicate-key",
        )  # fmt: skip
        for key, line in seen
    )
    return YamlFile(path, data, lines, duplicates)


def _whole(path: Path, message: str, hint: str) -> MenuError:
    """A MenuError about the whole file."""
    return menu_error([Problem(path, None, "", message, hint)])


def _walk(node: yaml.Node, prefix: KeyPath, lines: dict, seen: list, depth: int = 0) -> None:
    """Note the 1-based line of every mapping key and list item, and every key seen twice."""
    if depth > MAX_DEPTH:  # an alias that contains itself: YAML itself refuses to build it
        raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels (a recursive alias?)")
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            path = (*prefix, str(key_node.value))
            line = key_node.start_mark.line + 1
            if path in lines:
                seen.append((path, line))  # YAML keeps the last; the operator meant one of them
                for older in [p for p in lines if p[: len(path)] == path]:
                    del lines[older]  # the kept copy's keys are not duplicates of the dropped one
            lines[path] = line
            _walk(value, path, lines, seen, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, str(index))] = item.start_mark.line + 1
            _walk(item, (*prefix, str(index)), lines, seen, depth + 1)
