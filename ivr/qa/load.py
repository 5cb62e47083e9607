"""Read QA call scripts (YAML) into checked `Script`s; every problem names file and line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ivr.qa.files import (
    NAME,
    ScriptError,
    UniqueKeyLoader,
    compose,
    find_scripts,
    read_env_file,
)
from ivr.qa.load_say import is_say, say_step
from ivr.qa.model import Expectation, MatchKind, Script, Step, StepKind
from ivr.sim.turns import EndState

__all__ = [
    "DEFAULT_CALLER", "ScriptError", "find_scripts", "load_script", "load_scripts",
    "read_env_file",
]  # fmt: skip

DEFAULT_CALLER = "+8613800138000"
MAX_WAIT_MS = 60_000  # a longer wait is a typo that would stall a whole run
TOP_KEYS = ("name", "caller", "tags", "vars", "steps", "expect_end", "max_step_ms")
KINDS = ", ".join(kind.value for kind in StepKind)
EXPECT_HINT = 'write text, {regex: "..."} or {any: ["...", "..."]}'
KEYS = re.compile(r"[0-9*#]+")
REFERENCE = re.compile(r"\$\{([^}]*)\}")
NULL_TAG = "tag:yaml.org,2002:null"
_ANY = '{any: ["一千二百", "一千两百"]}'
_ENDS = tuple(state.value for state in EndState)
_EXAMPLE = {
    StepKind.EXPECT: "欢迎致电幺二三三三",
    StepKind.EXPECT_NOT: "王建国",
    StepKind.PRESS: '"1"',
    StepKind.SAY: "医保余额",
    StepKind.SILENCE: "1",
    StepKind.HANGUP: "",
    StepKind.WAIT_MS: "200",
}


def load_scripts(paths: Sequence[Path], variables: Mapping[str, str] | None = None) -> list[Script]:
    """Every script under `paths`, all parsed first; one error listing every broken file."""
    scripts, errors = [], []
    for path in find_scripts(paths):
        try:
            scripts.append(load_script(path, variables))
        except ScriptError as exc:
            errors.append(exc)
    if errors:
        raise ScriptError.combine(errors)
    return scripts


def load_script(path: Path, variables: Mapping[str, str] | None = None) -> Script:
    """Parse and check one call script; `variables` override the script's own `vars`."""
    path = Path(path)
    loader, root = compose(path)
    return _Parser(path, loader, root).script(dict(variables or {}))


def _line(node: yaml.Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1


def _text(value: Any) -> bool:
    """True for non-blank text."""
    return isinstance(value, str) and bool(value.strip())


def _words(value: Any) -> bool:
    """True for a list of non-blank texts."""
    return isinstance(value, list) and all(_text(word) for word in value)


def _positive(value: Any) -> bool:
    """True for a number above zero (bools are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _suggest(word: str, choices: Sequence[str]) -> str:
    """A "did you mean" hint for a misspelt key or step, or nothing."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Parser:
    """Turns one script's node graph into a `Script`, stopping at the first problem."""

    def __init__(self, path: Path, loader: UniqueKeyLoader, root: yaml.MappingNode) -> None:
        """Index the top-level keys by name, refusing unknown ones."""
        self.path, self.loader, self.root_line = path, loader, _line(root)
        self.variables: dict[str, str] = {}
        self.fields: dict[str, tuple[int, yaml.Node]] = {}
        for key_node, value_node in root.value:
            key = self._value(key_node)
            if not isinstance(key, str) or key not in TOP_KEYS:
                hint = _suggest(str(key), TOP_KEYS)
                reason = f"unknown key {key!r}{hint} (a script has: {', '.join(TOP_KEYS)})"
                raise self._error(_line(key_node), reason)
            self.fields[key] = (_line(key_node), value_node)

    def script(self, overrides: dict[str, str]) -> Script:
        """The whole script; `overrides` win over the script's `vars`."""
        self.variables = {**self._vars(), **overrides}
        steps = self._steps()
        name = self._get("name", _text, "expected text, e.g. name: 医保余额查询")
        caller = self._get("caller", _text, f'expected text in quotes: "{DEFAULT_CALLER}"')
        tags = self._get("tags", _words, "expected a list of words, e.g. tags: [balance, smoke]")
        end = self._get("expect_end", lambda v: v in _ENDS, f"expected one of {', '.join(_ENDS)}")
        budget = self._get("max_step_ms", _positive, "expected milliseconds above 0, e.g. 500")
        return Script(
            name=self._fill(self.fields["name"][0], name, "name") if name else self.path.stem,
            path=self.path,
            caller=caller or DEFAULT_CALLER,
            tags=tuple(tags or ()),
            steps=steps,
            expect_end=EndState(end) if end else None,
            max_step_ms=float(budget) if budget else None,
        )

    def _error(self, line: int | None, reason: str) -> ScriptError:
        """An error at a line of this script."""
        return ScriptError(self.path, line, reason)

    def _value(self, node: yaml.Node) -> Any:
        """A node's Python value (the file already loaded once, so this cannot fail)."""
        return self.loader.construct_object(node, deep=True)

    def _get(self, key: str, ok: Callable[[Any], bool], reason: str) -> Any:
        """A top-level value that passes `ok`; None when the key is absent."""
        if key not in self.fields:
            return None
        line, node = self.fields[key]
        value = self._value(node)
        if not ok(value):
            raise self._error(line, f"{key}: {reason}")
        return value

    def _vars(self) -> dict[str, str]:
        """The script's own variables, each exactly as written (so 012345 stays 012345)."""
        if "vars" not in self.fields:
            return {}
        line, node = self.fields["vars"]
        if not isinstance(node, yaml.MappingNode):
            raise self._error(line, 'vars: expected a mapping, e.g. vars: {PIN: "135790"}')
        found = {}
        for key_node, value_node in node.value:
            name = self._value(key_node)
            if not isinstance(name, str) or not NAME.fullmatch(name):
                reason = f"vars: {name!r} is not a variable name (letters, digits and _)"
                raise self._error(_line(key_node), reason)
            if not isinstance(value_node, yaml.ScalarNode) or value_node.tag == NULL_TAG:
                reason = f'vars.{name}: expected one value in quotes, e.g. {name}: "135790"'
                raise self._error(_line(value_node), reason)
            found[name] = value_node.value
        return found

    def _steps(self) -> tuple[Step, ...]:
        """Every step, each with the line it starts on."""
        if "steps" not in self.fields:
            raise self._error(self.root_line, "missing `steps`: add a list, e.g. steps: [hangup]")
        line, node = self.fields["steps"]
        if not isinstance(node, yaml.SequenceNode):
            raise self._error(line, 'steps: expected a list, one "- " line per step')
        if not node.value:
            raise self._error(line, "steps: empty; a script needs at least one step")
        return tuple(self._step(item) for item in node.value)

    def _step(self, node: yaml.Node) -> Step:
        """One step: a bare word (`hangup`, `silence`) or a mapping with exactly one key."""
        line = _line(node)
        if isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG:
            kind = self._kind(line, self._value(node))
            if kind not in (StepKind.HANGUP, StepKind.SILENCE):
                raise self._error(line, f"{kind} needs a value, e.g. - {kind}: {_EXAMPLE[kind]}")
            return Step(kind, line)
        if is_say(node, self._value):  # the one step that may have a second key
            return say_step(line, node, self._value, self._fill, self._error)
        if isinstance(node, yaml.MappingNode) and len(node.value) > 1:
            keys = ", ".join(str(self._value(key)) for key, _ in node.value)
            reason = f"one step has one key, found {keys}: start each step with its own '- '"
            raise self._error(line, reason)
        if not isinstance(node, yaml.MappingNode) or not node.value:
            raise self._error(line, f'expected a step such as - press: "1" (steps: {KINDS})')
        key_node, value_node = node.value[0]
        return self._build(self._kind(line, self._value(key_node)), line, value_node)

    def _kind(self, line: int, word: Any) -> StepKind:
        """The step kind a word names."""
        if isinstance(word, str) and word in _EXAMPLE:
            return StepKind(word)
        hint = _suggest(str(word), [kind.value for kind in StepKind])
        raise self._error(line, f"unknown step {word!r}{hint} (steps: {KINDS})")

    def _build(self, kind: StepKind, line: int, node: yaml.Node) -> Step:
        """A step from its kind and value node."""
        null = isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG
        if kind in (StepKind.EXPECT, StepKind.EXPECT_NOT):
            return Step(kind, line, expectation=self._expectation(kind, line, node))
        if kind == StepKind.PRESS:
            return Step(kind, line, keys=self._keys(line, node))
        if kind == StepKind.SILENCE:
            return Step(kind, line, count=1 if null else self._whole(kind, line, node, 1, None))
        if kind == StepKind.WAIT_MS:
            return Step(kind, line, ms=self._whole(kind, line, node, 0, MAX_WAIT_MS))
        if not null:
            raise self._error(line, "hangup takes no value: write - hangup")
        return Step(kind, line)

    def _whole(self, kind: StepKind, line: int, node: yaml.Node, low: int, high: int | None) -> int:
        """A whole-number step value within bounds."""
        value = self._value(node)
        whole = isinstance(value, int) and not isinstance(value, bool)  # YAML's true is no count
        if not whole or value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise self._error(line, f"{kind}: expected a whole number {span}, e.g. - {kind}: "
                                    f"{_EXAMPLE[kind]}")  # fmt: skip
        return int(value)

    def _keys(self, line: int, node: yaml.Node) -> str:
        """Keys to press, exactly as written (quotes optional) with variables filled in."""
        if not isinstance(node, yaml.ScalarNode) or node.tag == NULL_TAG or not node.value:
            raise self._error(line, 'press: expected keys in quotes, e.g. press: "1#" '
                                    "(an unquoted # starts a comment)")  # fmt: skip
        keys = self._fill(line, node.value, "press")
        if not KEYS.fullmatch(keys):
            bad = "".join(sorted(set(keys) - set("0123456789*#"))) or "nothing"
            # Only the offending characters are shown: the keys may be a PIN.
            hint = " (key the X of an ID number as *)" if "X" in bad.upper() else ""
            raise self._error(line, f"press: keys are 0-9, * and #; found {bad!r}{hint}")
        return keys

    def _expectation(self, kind: StepKind, line: int, node: yaml.Node) -> Expectation:
        """Text, {regex: ...} or {any: [...]}, with variables filled in."""
        value = self._value(node)
        if isinstance(value, str):
            return Expectation(MatchKind.TEXT, (self._pattern(kind, line, value),))
        if isinstance(value, dict) and list(value) == ["regex"] and isinstance(value["regex"], str):
            pattern = self._pattern(kind, line, value["regex"])
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self._error(line, f"{kind}: bad regex {pattern!r}: {exc}") from None
            return Expectation(MatchKind.REGEX, (pattern,))
        if isinstance(value, dict) and list(value) == ["any"]:
            texts = value["any"]
            if not (texts and _words(texts)):
                raise self._error(line, f"{kind}: any needs a list of texts, e.g. {_ANY}")
            return Expectation(MatchKind.ANY, tuple(self._pattern(kind, line, t) for t in texts))
        raise self._error(line, f"{kind}: {EXPECT_HINT}")

    def _pattern(self, kind: StepKind, line: int, text: str) -> str:
        """An expected text or regex, filled in; empty ones match anything, so are refused."""
        filled = self._fill(line, text, str(kind))
        if not filled:
            raise self._error(line, f"{kind}: empty text would match anything")
        return filled

    def _fill(self, line: int, text: str, where: str) -> str:
        """Replace each ${NAME} with its variable's value."""
        if "${" in REFERENCE.sub("", text):
            raise self._error(line, f"{where}: unclosed '${{' in {text!r}; write ${{NAME}}")

        def value(match: re.Match[str]) -> str:
            """One variable's value, or an error naming it."""
            name = match.group(1)
            if not NAME.fullmatch(name):
                raise self._error(line, f"{where}: ${{{name}}} is not a variable name")
            if name not in self.variables:
                reason = f"unknown variable ${{{name}}}: set it in vars:, --var or an env file"
                raise self._error(line, f"{where}: {reason}")
            return self.variables[name]

        return REFERENCE.sub(value, text)
