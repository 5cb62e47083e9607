"""Call-script files: finding them, reading env files, and YAML nodes that keep line numbers.

`UniqueKeyLoader` refuses duplicate keys; menu_load shares it, raising its own error.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ivr.errors import IvrError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ScriptError(IvrError):
    """A call script (or env file) is broken; the message is "FILE:LINE: reason" per problem."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        """Keep where the problem is; without a line the message is "FILE: reason"."""
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")
        self.path, self.line, self.reason = Path(path), line, reason
        self.errors: list[ScriptError] = [self]

    @classmethod
    def combine(cls, errors: Sequence[ScriptError]) -> ScriptError:
        """One error listing several, one per line; path and line are the first one's."""
        first = errors[0]
        combined = cls(first.path, first.line, first.reason)
        combined.args = ("\n".join(str(error) for error in errors),)
        combined.errors = [e for error in errors for e in error.errors]
        return combined


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping, failing on a key seen twice."""
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise self.duplicate(key, key_node.start_mark.line + 1)
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def duplicate(self, key: Any, line: int) -> Exception:
        """The error for a key seen twice, the second time on `line` (a subclass may differ)."""
        return ScriptError(self.name, line, f"duplicate key {key!r}: keep only one")


def read_text(path: Path) -> str:
    """A file's UTF-8 text (a BOM is dropped), naming the file when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScriptError(path, None, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except OSError as exc:
        raise ScriptError(path, None, f"cannot read: {exc.strerror or exc}") from exc


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments skipped; quotes around a value dropped)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        # The line itself is never echoed: it may hold a secret.
        if not sep or not NAME.fullmatch(key):
            raise ScriptError(path, number, "expected KEY=VALUE (KEY: letters, digits, _)")
        if key in values:
            raise ScriptError(path, number, f"{key} is set twice: keep only one")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def find_scripts(paths: Sequence[Path]) -> list[Path]:
    """Files as given and the *.yaml / *.yml files under folders (sorted), each once."""
    found: dict[Path, Path] = {}
    errors = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
            files = [p for p in inside if p.is_file()]
            if not files:
                errors.append(ScriptError(path, None, "no *.yaml or *.yml call scripts here"))
        elif path.exists():
            files = [path]
        else:
            errors.append(ScriptError(path, None, "no such file or folder"))
            files = []
        for file in files:
            found.setdefault(file.resolve(), file)
    if errors:
        raise ScriptError.combine(errors)
    return list(found.values())


def compose(path: Path) -> tuple[UniqueKeyLoader, yaml.MappingNode]:
    """Parse the file into its node graph (the nodes keep line numbers) and check it loads."""
    loader = UniqueKeyLoader(read_text(path))
    loader.name = str(path)
    try:
        root = loader.get_single_node()
        if root is not None:
            loader.construct_document(root)  # duplicate keys and bad tags, before any field
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise ScriptError(path, line, f"not valid YAML: {problem}") from exc
    finally:
        loader.dispose()
    if root is None:
        raise ScriptError(path, None, "empty file: a call script needs at least `steps`")
    if not isinstance(root, yaml.MappingNode):
        raise ScriptError(path, root.start_mark.line + 1, "expected a mapping (name:, steps: …)")
    return loader, root
