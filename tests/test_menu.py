"""Loading and checking the menu YAML and its prompt file (ivr.menu_load)."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.config import PROJECT_ROOT
from ivr.errors import MenuError
from ivr.menu import Key, Menu
from ivr.menu_load import load_menu

MENU_FILE = PROJECT_ROOT / "prompts" / "12333.yaml"
PROMPT_FILE = PROJECT_ROOT / "prompts" / "zh-CN.yaml"
DELETE = object()  # a change that removes the key


def shipped(path: Path) -> dict[str, Any]:
    """A shipped YAML file, parsed."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dump(path: Path, data: Any) -> None:
    """Write YAML as a person would: Chinese kept readable, keys in their order."""
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def copy_menu(
    tmp_path: Path,
    menu: Callable[[dict[str, Any]], None] | None = None,
    prompts: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Path, Path]:
    """Copies of the shipped menu and prompt file in tmp_path, with edits to the parsed data."""
    menu_data, prompt_data = shipped(MENU_FILE), shipped(PROMPT_FILE)
    for edit, data in ((menu, menu_data), (prompts, prompt_data)):
        if edit is not None:
            edit(data)
    menu_path, prompt_path = tmp_path / MENU_FILE.name, tmp_path / PROMPT_FILE.name
    dump(menu_path, menu_data)
    dump(prompt_path, prompt_data)
    return menu_path, prompt_path


def change(*keys: str, to: Any) -> Callable[[dict[str, Any]], None]:
    """An edit setting (or, with DELETE, removing) the value at a key path."""

    def edit(data: dict[str, Any]) -> None:
        for key in keys[:-1]:
            data = data[key]
        if to is DELETE:
            del data[keys[-1]]
        else:
            data[keys[-1]] = to

    return edit


def error_of(path: Path) -> str:
    """The MenuError message of loading a menu file."""
    with pytest.raises(MenuError) as caught:
        load_menu(path)
    return str(caught.value)


# --- the shipped menu --------------------------------------------------------------------------


def test_shipped_menu_loads_as_written() -> None:
    menu, data, prompts = load_menu(MENU_FILE), shipped(MENU_FILE), shipped(PROMPT_FILE)

    assert menu.source == MENU_FILE.resolve()
    assert (menu.name, menu.start, menu.identify) == (data["name"], data["start"], data["identify"])
    assert dataclasses.asdict(menu.limits) == data["limits"]
    assert set(menu.nodes) == set(data["nodes"])
    for name, raw in data["nodes"].items():
        node = menu.nodes[name]
        assert node.name == name
        assert node.type.value == raw["type"]
        assert (node.prompt, node.next) == (raw.get("prompt"), raw.get("next"))
        assert node.requires_identity == raw.get("requires_identity", False)
        assert node.timeout == raw.get("timeout", 5)
        assert {k.value: v for k, v in node.options.items()} == {
            str(k): v for k, v in raw.get("options", {}).items()
        }
    assert dict(menu.prompts) == prompts["prompts"]
    assert {group: dict(words) for group, words in menu.words.items()} == prompts["words"]


def test_shipped_menu_fills_in_prompts_and_words() -> None:
    menu = load_menu(str(MENU_FILE))  # a str path works too
    assert menu.text("auth_failed", remaining=2) == "身份验证失败，您还有2次机会。"
    assert menu.text("main_menu").startswith("社会保险查询请按1")
    assert menu.word("relation", "spouse") == "配偶"
    assert menu.nodes["main"].options[Key.STAR] == "repeat"


def test_unchanged_copy_loads_like_the_original(tmp_path: Path) -> None:
    """The copies the failure cases start from are valid: each case fails by its edit."""
    menu_path, _ = copy_menu(tmp_path)
    copy = load_menu(menu_path)
    original = load_menu(MENU_FILE)
    assert copy.source == menu_path.resolve()
    assert dataclasses.replace(copy, source=original.source) == original


# --- broken copies: every problem names the file and the key ----------------------------------

M, P = "menu", "prompts"  # which file an edit goes to, and which file the message names

BROKEN = [
    # targets
    ("unknown option target", M, change("nodes", "main", "options", "1", to="nowhere"), M,
     ["nodes.main.options['1']", "'nowhere'"]),
    ("unknown # target", M, change("nodes", "medical", "options", "#", to="home"), M,
     ["nodes.medical.options['#']", "'home'"]),
    ("unknown next", M, change("nodes", "welcome", "next", to="nowhere"), M,
     ["nodes.welcome.next", "'nowhere'"]),
    ("unknown next of a service", M, change("nodes", "balance", "next", to="menu2"), M,
     ["nodes.balance.next", "'menu2'"]),
    ("unknown start", M, change("start", to="begin"), M, ["start", "'begin'"]),
    ("no start", M, change("start", to=DELETE), M, ["start"]),
    ("unknown identify", M, change("identify", to="login"), M, ["identify", "'login'"]),
    ("start requires identity", M, change("start", to="medical"), M, ["start"]),
    # identify must be an id input followed by a pin input
    ("identify at a menu", M, change("identify", to="main"), M, ["identify"]),
    ("identify at the pin input", M, change("identify", to="ask_pin"), M, ["identify"]),
    ("id input not followed by the pin", M, change("nodes", "ask_id", "next", to="welcome"), M,
     ["identify"]),
    ("id input without next", M, change("nodes", "ask_id", "next", to=DELETE), M,
     ["nodes.ask_id.next"]),
    # prompts referenced by nodes
    ("node prompt not in the prompt file", M, change("nodes", "welcome", "prompt", to="hello"),
     M, ["nodes.welcome.prompt", "'hello'"]),
    ("node prompt deleted from the prompt file", P, change("prompts", "main_menu", to=DELETE),
     M, ["nodes.main.prompt", "'main_menu'"]),
    ("node prompt with a placeholder", P, change("prompts", "welcome", to="欢迎{name}"), M,
     ["nodes.welcome.prompt"]),
    ("menu node without prompt", M, change("nodes", "main", "prompt", to=DELETE), M,
     ["nodes.main.prompt"]),
    ("empty prompt text", P, change("prompts", "welcome", to=""), P, ["prompts.welcome"]),
    # system prompts
    ("system prompt missing", P, change("prompts", "goodbye", to=DELETE), P,
     ["prompts.goodbye"]),
    ("system prompt with fields missing", P, change("prompts", "auth_failed", to=DELETE), P,
     ["prompts.auth_failed"]),
    ("unknown placeholder", P, change("prompts", "balance", to="余额{money}"), P,
     ["prompts.balance", "{money}"]),
    ("placeholder of another prompt", P, change("prompts", "auth_failed", to="还有{count}次"),
     P, ["prompts.auth_failed", "{count}"]),
    ("unbalanced brace in a system prompt", P, change("prompts", "balance", to="余额{amount"),
     P, ["prompts.balance"]),
    ("unbalanced brace in a node prompt", P, change("prompts", "welcome", to="欢迎}"), P,
     ["prompts.welcome", "brace"]),
    ("no prompts mapping", P, change("prompts", to=DELETE), P, ["prompts"]),
    # node shapes
    ("unknown node type", M, change("nodes", "welcome", "type", to="dance"), M,
     ["nodes.welcome.type", "'dance'"]),
    ("service open to unverified callers", M,
     change("nodes", "balance", "requires_identity", to=False), M,
     ["nodes.balance.requires_identity"]),
    ("node without type", M, change("nodes", "agent", "type", to=DELETE), M,
     ["nodes.agent.type"]),
    ("unknown node key", M, change("nodes", "welcome", "colour", to="red"), M,
     ["nodes.welcome.colour"]),
    ("node not a mapping", M, change("nodes", "agent", to="transfer"), M, ["nodes.agent"]),
    ("menu with no options", M, change("nodes", "main", "options", to={}), M,
     ["nodes.main.options"]),
    ("menu without options key", M, change("nodes", "main", "options", to=DELETE), M,
     ["nodes.main.options"]),
    ("options on a say node", M, change("nodes", "welcome", "options", to={"1": "main"}), M,
     ["nodes.welcome.options"]),
    ("option key A", M, change("nodes", "main", "options", "A", to="main"), M,
     ["nodes.main.options", "'A'"]),
    ("option key 10", M, change("nodes", "main", "options", "10", to="main"), M,
     ["nodes.main.options", "'10'"]),
    ("options as a list", M, change("nodes", "main", "options", to=["social", "medical"]), M,
     ["nodes.main.options"]),
    ("say node without next", M, change("nodes", "welcome", "next", to=DELETE), M,
     ["nodes.welcome.next"]),
    ("input without field", M, change("nodes", "ask_pin", "field", to=DELETE), M,
     ["nodes.ask_pin.field"]),
    ("unknown input field", M, change("nodes", "ask_pin", "field", to="phone"), M,
     ["nodes.ask_pin.field", "'phone'"]),
    ("service without service", M, change("nodes", "balance", "service", to=DELETE), M,
     ["nodes.balance.service"]),
    ("unknown service", M, change("nodes", "balance", "service", to="pension"), M,
     ["nodes.balance.service", "'pension'"]),
    ("no nodes", M, change("nodes", to={}), M, ["nodes"]),
    # timeouts and limits
    ("timeout 0", M, change("nodes", "ask_id", "timeout", to=0), M, ["nodes.ask_id.timeout"]),
    ("timeout 61", M, change("nodes", "ask_id", "timeout", to=61), M,
     ["nodes.ask_id.timeout"]),
    ("timeout as text", M, change("nodes", "ask_id", "timeout", to="10"), M,
     ["nodes.ask_id.timeout"]),
    ("timeout as a boolean", M, change("nodes", "ask_id", "timeout", to=True), M,
     ["nodes.ask_id.timeout"]),
    ("timeout with a fraction", M, change("nodes", "ask_id", "timeout", to=2.5), M,
     ["nodes.ask_id.timeout"]),
    ("unknown limit", M, change("limits", "retries", to=3), M, ["limits.retries"]),
    ("limit 0", M, change("limits", "no_input", to=0), M, ["limits.no_input"]),
    ("limit as text", M, change("limits", "invalid", to="3"), M, ["limits.invalid"]),
    ("limits as a list", M, change("limits", to=[3, 3, 3]), M, ["limits"]),
    # words
    ("word missing", P, change("words", "relation", "spouse", to=DELETE), P,
     ["words.relation.spouse"]),
    ("word for lapsed missing", P, change("words", "binding_status", "lapsed", to=DELETE), P,
     ["words.binding_status.lapsed"]),
    ("word group missing", P, change("words", "scheme", to=DELETE), P, ["words.scheme"]),
    ("word group as a list", P, change("words", "scheme", to=["职工", "居民"]), P,
     ["words.scheme"]),
    ("no words", P, change("words", to=DELETE), P, ["words"]),
    # the prompt file itself
    ("prompt file not named", M, change("prompts", to=DELETE), M, ["prompts"]),
    ("prompt file missing", M, change("prompts", to="missing.yaml"), "missing.yaml",
     ["cannot read"]),
    ("prompt file is a folder", M, change("prompts", to="."), ".", ["cannot read"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "edit", "named", "fragments"),
    [pytest.param(t, e, n, f, id=name) for name, t, e, n, f in BROKEN],
)
def test_broken_menu_fails_naming_file_and_key(
    tmp_path: Path,
    target: str,
    edit: Callable[[dict[str, Any]], None],
    named: str,
    fragments: list[str],
) -> None:
    menu_path, prompt_path = copy_menu(tmp_path, **{target: edit})
    file = {M: menu_path, P: prompt_path}.get(named) or tmp_path / named

    message = error_of(menu_path)

    assert message.startswith(f"{file.resolve()}:"), message
    for fragment in fragments:
        assert fragment in message, message


def line_of(text: str, line: str, occurrence: int) -> int:
    """The 1-based line number of the n-th (1-based) occurrence of a whole line."""
    numbers = [i for i, each in enumerate(text.splitlines(), 1) if each == line]
    return numbers[occurrence - 1]


TEXT_BROKEN = [
    # (file edited, how, the key, the line that must be named: (line text, occurrence))
    ("duplicate node", M,
     lambda t: t.replace("nodes:\n", "nodes:\n  agent:\n    type: agent\n", 1),
     "'agent'", ("  agent:", 2)),
    ("duplicate top-level key", M, lambda t: t + "start: main\n", "'start'",
     ("start: main", 1)),
    ("duplicate option key", M,
     lambda t: t.replace('      "0": agent\n', '      "0": agent\n      "0": main\n', 1),
     "'0'", ('      "0": main', 1)),
    ("duplicate prompt", P,
     lambda t: t.replace("prompts:\n", "prompts:\n  goodbye: 再见。\n", 1),
     "'goodbye'", ("  goodbye: 感谢您的来电，再见。", 1)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "edit", "key", "line"),
    [pytest.param(t, e, k, n, id=name) for name, t, e, k, n in TEXT_BROKEN],
)
def test_duplicate_key_fails_with_its_line(
    tmp_path: Path,
    target: str,
    edit: Callable[[str], str],
    key: str,
    line: tuple[str, int],
) -> None:
    menu_path, prompt_path = copy_menu(tmp_path)
    path = menu_path if target == M else prompt_path
    text = edit((MENU_FILE if target == M else PROMPT_FILE).read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")

    message = error_of(menu_path)

    assert message.startswith(f"{path.resolve()}:{line_of(text, *line)}:"), message
    assert f"duplicate key {key}" in message


@pytest.mark.parametrize(
    ("target", "text", "expected"),
    [
        pytest.param(M, "name: x\nnodes: [unclosed\n", "not valid YAML", id="unclosed list"),
        pytest.param(M, "nodes:\n\twelcome: {}\n", "not valid YAML", id="tab indent"),
        pytest.param(P, "prompts: {welcome: '欢迎\n", "not valid YAML", id="prompts unclosed"),
        pytest.param(M, "- welcome\n- main\n", "expected a mapping", id="menu is a list"),
        pytest.param(P, "just text\n", "expected a mapping", id="prompts are text"),
        pytest.param(M, "", "expected a mapping", id="menu empty"),
        pytest.param(M, "start: !!python/object:os.system {}\n", "not valid YAML",
                     id="python tag refused"),
    ],
)  # fmt: skip
def test_unparsable_file_fails_naming_it(
    tmp_path: Path, target: str, text: str, expected: str
) -> None:
    menu_path, prompt_path = copy_menu(tmp_path)
    path = menu_path if target == M else prompt_path
    path.write_text(text, encoding="utf-8")

    message = error_of(menu_path)

    assert message.startswith(f"{path.resolve()}:"), message
    assert expected in message


def test_prompt_file_not_in_utf8_fails_naming_it(tmp_path: Path) -> None:
    menu_path, prompt_path = copy_menu(tmp_path)
    prompt_path.write_bytes(PROMPT_FILE.read_text(encoding="utf-8").encode("gb18030"))

    message = error_of(menu_path)

    assert message.startswith(f"{prompt_path.resolve()}:"), message


def test_missing_menu_file_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "none.yaml"
    message = error_of(path)
    assert message.startswith(f"{path.resolve()}:")
    assert "cannot read" in message


# --- start-up ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("menu_edit", "prompts_edit", "fragment"),
    [
        pytest.param(change("nodes", "main", "options", "2", to="medicl"), None,
                     "nodes.main.options['2']", id="unknown target"),
        pytest.param(None, change("prompts", "busy", to=DELETE), "prompts.busy",
                     id="missing system prompt"),
    ],
)  # fmt: skip
def test_create_app_with_a_broken_menu_fails_loudly(
    make_app: Callable[..., Any],
    tmp_path: Path,
    menu_edit: Callable[[dict[str, Any]], None] | None,
    prompts_edit: Callable[[dict[str, Any]], None] | None,
    fragment: str,
) -> None:
    menu_path, _ = copy_menu(tmp_path, menu=menu_edit, prompts=prompts_edit)
    with pytest.raises(MenuError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        make_app(IVR_MENU=str(menu_path))


def test_create_app_serves_the_configured_menu(make_app: Callable[..., Any], tmp_path: Path):
    menu_path, _ = copy_menu(tmp_path, prompts=change("prompts", "welcome", to="您好。"))
    app = make_app(IVR_MENU=str(menu_path))
    hotline = app.extensions["ivr"]
    assert hotline.menu.source == menu_path.resolve()
    assert hotline.menu.text("welcome") == "您好。"


# --- immutability ------------------------------------------------------------------------------

MUTATIONS = [
    ("node attribute", lambda m: setattr(m.nodes["main"], "prompt", "welcome"),
     dataclasses.FrozenInstanceError),
    ("menu attribute", lambda m: setattr(m, "start", "main"), dataclasses.FrozenInstanceError),
    ("limits", lambda m: setattr(m.limits, "no_input", 99), dataclasses.FrozenInstanceError),
    ("add a node", lambda m: operator.setitem(m.nodes, "extra", m.nodes["main"]), TypeError),
    ("replace a node", lambda m: operator.setitem(m.nodes, "main", m.nodes["agent"]),
     TypeError),
    ("delete a node", lambda m: operator.delitem(m.nodes, "main"), TypeError),
    ("menu option", lambda m: operator.setitem(m.nodes["main"].options, Key.ONE, "agent"),
     TypeError),
    ("prompt text", lambda m: operator.setitem(m.prompts, "welcome", "x"), TypeError),
    ("word group", lambda m: operator.setitem(m.words, "scheme", {}), TypeError),
    ("word", lambda m: operator.setitem(m.words["scheme"], "employee", "x"), TypeError),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "error"), [pytest.param(f, e, id=name) for name, f, e in MUTATIONS]
)
def test_loaded_menu_is_immutable(mutate: Callable[[Menu], None], error: type[Exception]) -> None:
    menu = load_menu(MENU_FILE)
    with pytest.raises(error):
        mutate(menu)
    assert menu == load_menu(MENU_FILE)
