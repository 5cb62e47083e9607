"""Loading and checking the menu YAML and its prompt file (ivr.menu.load)."""

from __future__ import annotations

import dataclasses
import operator
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.config import PROJECT_ROOT
from ivr.core.model import Key, Menu, NodeType, Prompt
from ivr.errors import MenuError
from ivr.menu.load import load_menu

PROMPT_DIR = PROJECT_ROOT / "prompts"
MENU_FILE = PROMPT_DIR / "12333.yaml"
PROMPT_FILE = PROMPT_DIR / "zh-CN.yaml"
ENGLISH_FILE = PROMPT_DIR / "en-US.yaml"
DELETE = object()  # a change that removes the key
M, P, E = "menu", "prompts", "english"  # the menu, its Mandarin and its English prompt file
SHIPPED = {M: MENU_FILE, P: PROMPT_FILE, E: ENGLISH_FILE}


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
    english: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Path]:
    """A copy of the whole prompts/ folder in tmp_path, each edit applied to its file's data;
    the copied menu, Mandarin and English prompt files by M, P and E."""
    shutil.copytree(PROMPT_DIR, tmp_path, dirs_exist_ok=True)
    paths = {target: tmp_path / file.name for target, file in SHIPPED.items()}
    for target, edit in ((M, menu), (P, prompts), (E, english)):
        if edit is not None:
            data = shipped(SHIPPED[target])
            edit(data)
            dump(paths[target], data)
    return paths


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


def node_prompts(raw: Any) -> tuple[str, ...]:
    """A node's `prompt` as written: one name or a list, read as a tuple of names."""
    return (raw,) if isinstance(raw, str) else tuple(raw or ())


def prompt_of(raw: Any, code: str) -> Prompt:
    """A prompt as written: a text in the file's language, or {text, lang}."""
    return Prompt(raw, code) if isinstance(raw, str) else Prompt(raw["text"], raw.get("lang", code))


def test_shipped_menu_loads_as_written() -> None:
    menu, data = load_menu(MENU_FILE), shipped(MENU_FILE)

    assert menu.source == MENU_FILE.resolve()
    assert (menu.name, menu.start, menu.identify) == (data["name"], data["start"], data["identify"])
    assert menu.language == data["language"]
    assert dataclasses.asdict(menu.limits) == data["limits"]
    assert set(menu.nodes) == set(data["nodes"])
    for name, raw in data["nodes"].items():
        node = menu.nodes[name]
        assert node.name == name
        assert node.type.value == raw["type"]
        assert (node.prompts, node.next) == (node_prompts(raw.get("prompt")), raw.get("next"))
        assert node.requires_identity == raw.get("requires_identity", False)
        assert node.timeout == raw.get("timeout", 5)
        assert dict(node.switch) == raw.get("switch", {})
        assert {k.value: v for k, v in node.options.items()} == {
            str(k): v for k, v in raw.get("options", {}).items()
        }
    assert list(menu.languages) == list(data["prompts"])
    for code, file in data["prompts"].items():
        language, prompts = menu.languages[code], shipped(PROMPT_DIR / file)
        assert (language.code, language.source) == (code, (PROMPT_DIR / file).resolve())
        assert dict(language.prompts) == {
            name: prompt_of(raw, code) for name, raw in prompts["prompts"].items()
        }
        assert {group: dict(words) for group, words in language.words.items()} == prompts["words"]
        pieces = [piece for group in prompts["pieces"].values() for piece in group.split()]
        assert language.pieces == tuple(dict.fromkeys(pieces))


def test_shipped_menu_fills_in_prompts_and_words() -> None:
    menu = load_menu(str(MENU_FILE))  # a str path works too
    assert menu.text("auth_failed", remaining=2) == "身份验证失败，您还有2次机会。"
    assert menu.text("auth_failed", "en-US", remaining="two").endswith("you have left is two.")
    assert menu.text("main_menu").startswith("社会保险查询请按一")
    assert menu.text("main_menu", "en-US").startswith("For social insurance enquiries, press one.")
    assert menu.word("relation", "spouse") == "配偶"
    assert menu.word("relation", "spouse", "en-US") == "spouse"
    assert menu.nodes["main"].options[Key.STAR] == "repeat"


def test_shipped_menu_offers_english_at_the_main_menu() -> None:
    """Key 9 at main switches language; each language's offer is spoken by the other's voice."""
    menu = load_menu(MENU_FILE)
    assert menu.language == "zh-CN" and list(menu.languages) == ["zh-CN", "en-US"]
    assert menu.nodes["main"].prompts == ("main_menu", "language_offer")
    assert menu.nodes["main"].options[Key.NINE] == "language"
    node = menu.nodes["language"]
    assert (node.type, node.next) == (NodeType.LANGUAGE, "main")
    assert dict(node.switch) == {"zh-CN": "en-US", "en-US": "zh-CN"}
    assert menu.prompt("language_offer") == Prompt("For English service, press nine.", "en-US")
    assert menu.prompt("language_offer", "en-US").lang == "zh-CN"
    assert menu.prompt("language_set", "en-US").lang == "en-US"


def test_unchanged_copy_loads_like_the_original(tmp_path: Path) -> None:
    """The copies the failure cases start from are valid: each case fails by its edit."""
    paths = copy_menu(tmp_path)
    copy = load_menu(paths[M])
    original = load_menu(MENU_FILE)
    assert copy.source == paths[M].resolve()
    sources = {code: language.source for code, language in copy.languages.items()}
    assert sources == {"zh-CN": paths[P].resolve(), "en-US": paths[E].resolve()}
    languages = {
        code: dataclasses.replace(
            language, source=original.languages[code].source, files=original.languages[code].files
        )
        for code, language in copy.languages.items()
    }
    assert dataclasses.replace(copy, source=original.source, languages=languages) == original


# --- broken copies: every problem names the file and the key ----------------------------------

# (case, which file an edit goes to, the edit, which file the message names, what it says)
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
    # prompts referenced by nodes: a missing one is named in the prompt file that lacks it
    ("node prompt in no prompt file", M, change("nodes", "welcome", "prompt", to="hello"),
     M, ["nodes.welcome.prompt: no prompt file has 'hello'"]),
    ("node prompt deleted from the prompt file", P, change("prompts", "main_menu", to=DELETE),
     P, ["prompts.main_menu: missing in zh-CN", "nodes.main.prompt in 12333.yaml"]),
    ("node prompt missing in English", E, change("prompts", "main_menu", to=DELETE), E,
     ["prompts.main_menu: missing in en-US", "nodes.main.prompt in 12333.yaml"]),
    ("node prompt of a list missing in English", E,
     change("prompts", "language_offer", to=DELETE), E,
     ["prompts.language_offer: missing in en-US", "nodes.main.prompt in 12333.yaml"]),
    ("node prompt with a placeholder", P, change("prompts", "welcome", to="欢迎{name}"), M,
     ["nodes.welcome.prompt", "zh-CN.yaml"]),
    ("English node prompt with a placeholder", E,
     change("prompts", "welcome", to="Welcome, {name}."), M,
     ["nodes.welcome.prompt", "en-US.yaml"]),
    ("menu node without prompt", M, change("nodes", "main", "prompt", to=DELETE), M,
     ["nodes.main.prompt"]),
    ("menu node with an empty prompt list", M, change("nodes", "main", "prompt", to=[]), M,
     ["nodes.main.prompt"]),
    ("prompt list with a number", M,
     change("nodes", "main", "prompt", to=["main_menu", 9]), M, ["nodes.main.prompt"]),
    ("prompt as a mapping", M, change("nodes", "main", "prompt", to={"zh-CN": "main_menu"}), M,
     ["nodes.main.prompt"]),
    ("empty prompt text", P, change("prompts", "welcome", to=""), P, ["prompts.welcome"]),
    ("empty English prompt text", E, change("prompts", "welcome", to=""), E,
     ["prompts.welcome"]),
    # a prompt spoken by another language's voice
    ("offer in a language the menu lacks", P,
     change("prompts", "language_offer", "lang", to="fr-FR"), P,
     ["prompts.language_offer.lang", "'fr-FR'"]),
    ("offer with an empty language", P, change("prompts", "language_offer", "lang", to=""), P,
     ["prompts.language_offer.lang"]),
    ("offer with an unknown key", P, change("prompts", "language_offer", "voice", to="x"), P,
     ["prompts.language_offer.voice"]),
    ("offer without text", P, change("prompts", "language_offer", "text", to=DELETE), P,
     ["prompts.language_offer"]),
    # system prompts
    ("system prompt missing", P, change("prompts", "goodbye", to=DELETE), P,
     ["prompts.goodbye"]),
    ("system prompt with fields missing", P, change("prompts", "auth_failed", to=DELETE), P,
     ["prompts.auth_failed"]),
    ("hours prompt missing", P, change("prompts", "hours_range", to=DELETE), P,
     ["prompts.hours_range"]),
    ("English system prompt missing", E, change("prompts", "language_set", to=DELETE), E,
     ["prompts.language_set"]),
    ("unknown placeholder in the hours", P, change("prompts", "hours_range", to="{start}到{to}"),
     P, ["prompts.hours_range", "{to}"]),
    ("English unknown placeholder", E,
     change("prompts", "agent_closed", to="Closed. Hours: {time}."), E,
     ["prompts.agent_closed", "{time}"]),
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
    ("options on the balance", M, change("nodes", "balance", "options", to={"1": "main"}), M,
     ["nodes.balance.options", "only a menu node, or the statement, has options"]),
    ("more at a menu", M, change("nodes", "main", "options", "3", to="more"), M,
     ["nodes.main.options", "only the statement's options may lead to 'more'"]),
    ("paged statement without a prompt", M, change("nodes", "statement", "prompt", to=DELETE),
     M, ["nodes.statement.prompt", "needs a prompt"]),
    ("statement prompt missing in English", E, change("prompts", "statement_options",
     to=DELETE), E, ["prompts.statement_options: missing in en-US"]),
    ("statement entry prompt missing", P, change("prompts", "statement_covered_hospital",
     to=DELETE), P, ["prompts.statement_covered_hospital: missing in zh-CN"]),
    ("option key A", M, change("nodes", "main", "options", "A", to="main"), M,
     ["nodes.main.options", "'A'"]),
    ("option key 10", M, change("nodes", "main", "options", "10", to="main"), M,
     ["nodes.main.options", "'10'"]),
    ("options as a list", M, change("nodes", "main", "options", to=["social", "medical"]), M,
     ["nodes.main.options"]),
    ("say node without next", M, change("nodes", "welcome", "next", to=DELETE), M,
     ["nodes.welcome.next"]),
    ("language node without next", M, change("nodes", "language", "next", to=DELETE), M,
     ["nodes.language.next"]),
    ("language node without switch", M, change("nodes", "language", "switch", to=DELETE), M,
     ["nodes.language.switch"]),
    ("switch on a menu node", M, change("nodes", "main", "switch", to={"zh-CN": "en-US"}), M,
     ["nodes.main.switch"]),
    ("switch to a language the menu lacks", M,
     change("nodes", "language", "switch", "zh-CN", to="fr-FR"), M,
     ["nodes.language.switch", "fr-FR"]),
    ("switch as a list", M, change("nodes", "language", "switch", to=["zh-CN", "en-US"]), M,
     ["nodes.language.switch"]),
    ("requires_identity as text", M,
     change("nodes", "balance", "requires_identity", to="no"), M,
     ["nodes.balance.requires_identity", "'no'"]),
    ("field on a menu node", M, change("nodes", "main", "field", to="pin"), M,
     ["nodes.main.field", "only an input node"]),
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
    ("English word missing", E, change("words", "relation", "spouse", to=DELETE), E,
     ["words.relation.spouse"]),
    # the prompt files themselves, and the languages they are for
    ("prompt file not named", M, change("prompts", to=DELETE), M, ["prompts"]),
    ("prompt file missing", M, change("prompts", to="missing.yaml"), "missing.yaml",
     ["cannot read"]),
    ("English prompt file missing", M, change("prompts", "en-US", to="missing.yaml"),
     "missing.yaml", ["cannot read"]),
    ("prompt file is a folder", M, change("prompts", to="."), ".", ["cannot read"]),
    ("prompt files as a list", M, change("prompts", to=["zh-CN.yaml", "en-US.yaml"]), M,
     ["prompts"]),
    ("not a language code", M, change("prompts", "English", to="en-US.yaml"), M,
     ["prompts.English"]),
    ("language without a number reader", M, change("prompts", "fr-FR", to="en-US.yaml"), M,
     ["prompts.fr-FR", "reader"]),
    ("start language without a prompt file", M, change("language", to="fr-FR"), M,
     ["language", "'fr-FR'"]),
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
    paths = copy_menu(tmp_path, **{target: edit})
    file = paths.get(named) or tmp_path / named

    message = error_of(paths[M])

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
    ("duplicate English prompt", E,
     lambda t: t.replace("prompts:\n", "prompts:\n  goodbye: Bye.\n", 1),
     "'goodbye'", ("  goodbye: Thank you for calling. Goodbye.", 1)),
    ("duplicate prompt file", M,
     lambda t: t.replace("  en-US: en-US.yaml\n", "  en-US: en-US.yaml\n  en-US: zh-CN.yaml\n", 1),
     "'en-US'", ("  en-US: zh-CN.yaml", 1)),
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
    paths = copy_menu(tmp_path)
    path = paths[target]
    text = edit(SHIPPED[target].read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")

    message = error_of(paths[M])

    assert message.startswith(f"{path.resolve()}:{line_of(text, *line)}:"), message
    assert f"duplicate key {key}" in message


@pytest.mark.parametrize(
    ("target", "text", "expected"),
    [
        pytest.param(M, "name: x\nnodes: [unclosed\n", "not valid YAML", id="unclosed list"),
        pytest.param(M, "nodes:\n\twelcome: {}\n", "not valid YAML", id="tab indent"),
        pytest.param(P, "prompts: {welcome: '欢迎\n", "not valid YAML", id="prompts unclosed"),
        pytest.param(E, "prompts: {welcome: 'Hi\n", "not valid YAML", id="english unclosed"),
        pytest.param(M, "- welcome\n- main\n", "expected a mapping", id="menu is a list"),
        pytest.param(P, "just text\n", "expected a mapping", id="prompts are text"),
        pytest.param(E, "", "expected a mapping", id="english empty"),
        pytest.param(M, "", "expected a mapping", id="menu empty"),
        pytest.param(M, "start: !!python/object:os.system {}\n", "not valid YAML",
                     id="python tag refused"),
    ],
)  # fmt: skip
def test_unparsable_file_fails_naming_it(
    tmp_path: Path, target: str, text: str, expected: str
) -> None:
    paths = copy_menu(tmp_path)
    path = paths[target]
    path.write_text(text, encoding="utf-8")

    message = error_of(paths[M])

    assert message.startswith(f"{path.resolve()}:"), message
    assert expected in message


@pytest.mark.parametrize("target", [P, E])
def test_prompt_file_not_in_utf8_fails_naming_it(tmp_path: Path, target: str) -> None:
    paths = copy_menu(tmp_path)
    text = SHIPPED[target].read_text(encoding="utf-8") + "# 注释\n"  # Chinese in either file
    paths[target].write_bytes(text.encode("gb18030"))

    message = error_of(paths[M])

    assert message.startswith(f"{paths[target].resolve()}:"), message


def test_missing_menu_file_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "none.yaml"
    message = error_of(path)
    assert message.startswith(f"{path.resolve()}:")
    assert "cannot read" in message


# --- start-up ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "edit", "fragment"),
    [
        pytest.param(M, change("nodes", "main", "options", "2", to="medicl"),
                     "nodes.main.options['2']", id="unknown target"),
        pytest.param(P, change("prompts", "busy", to=DELETE), "prompts.busy",
                     id="missing system prompt"),
        pytest.param(E, change("prompts", "main_menu", to=DELETE),
                     "prompts.main_menu: missing in en-US", id="missing English prompt"),
    ],
)  # fmt: skip
def test_create_app_with_a_broken_menu_fails_loudly(
    make_app: Callable[..., Any],
    tmp_path: Path,
    target: str,
    edit: Callable[[dict[str, Any]], None],
    fragment: str,
) -> None:
    paths = copy_menu(tmp_path, **{target: edit})
    with pytest.raises(MenuError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        make_app(IVR_MENU=str(paths[M]))


def test_create_app_serves_the_configured_menu(make_app: Callable[..., Any], tmp_path: Path):
    paths = copy_menu(
        tmp_path,
        prompts=change("prompts", "welcome", to="您好。"),
        english=change("prompts", "welcome", to="Hello."),
    )
    app = make_app(IVR_MENU=str(paths[M]))
    hotline = app.extensions["ivr"]
    assert hotline.menu.source == paths[M].resolve()
    assert hotline.menu.text("welcome") == "您好。"
    assert hotline.menu.text("welcome", "en-US") == "Hello."


# --- immutability ------------------------------------------------------------------------------

MUTATIONS = [
    ("node attribute", lambda m: setattr(m.nodes["main"], "prompts", ("welcome",)),
     dataclasses.FrozenInstanceError),
    ("menu attribute", lambda m: setattr(m, "start", "main"), dataclasses.FrozenInstanceError),
    ("limits", lambda m: setattr(m.limits, "no_input", 99), dataclasses.FrozenInstanceError),
    ("add a node", lambda m: operator.setitem(m.nodes, "extra", m.nodes["main"]), TypeError),
    ("replace a node", lambda m: operator.setitem(m.nodes, "main", m.nodes["agent"]),
     TypeError),
    ("delete a node", lambda m: operator.delitem(m.nodes, "main"), TypeError),
    ("menu option", lambda m: operator.setitem(m.nodes["main"].options, Key.ONE, "agent"),
     TypeError),
    ("node switch", lambda m: operator.setitem(m.nodes["language"].switch, "zh-CN", "zh-CN"),
     TypeError),
    ("add a language", lambda m: operator.setitem(m.languages, "fr-FR", m.languages["en-US"]),
     TypeError),
    ("language attribute", lambda m: setattr(m.languages["en-US"], "code", "fr-FR"),
     dataclasses.FrozenInstanceError),
    ("prompt text", lambda m: operator.setitem(m.languages["zh-CN"].prompts, "welcome",
                                               Prompt("x", "zh-CN")), TypeError),
    ("prompt voice", lambda m: setattr(m.prompt("language_offer"), "lang", "zh-CN"),
     dataclasses.FrozenInstanceError),
    ("word group", lambda m: operator.setitem(m.languages["zh-CN"].words, "scheme", {}),
     TypeError),
    ("word", lambda m: operator.setitem(m.languages["en-US"].words["scheme"], "employee", "x"),
     TypeError),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "error"), [pytest.param(f, e, id=name) for name, f, e in MUTATIONS]
)
def test_loaded_menu_is_immutable(mutate: Callable[[Menu], None], error: type[Exception]) -> None:
    menu = load_menu(MENU_FILE)
    with pytest.raises(error):
        mutate(menu)
    assert menu == load_menu(MENU_FILE)
