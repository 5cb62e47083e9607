"""Speech navigation in menu files: reading `speech:` and `say:`, the speech lint rules, and
the phrases in `menu graph`, `menu show` and the softphone's menu JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ivr.cli.menu import menu_tree
from ivr.core.model import Key, Speech
from ivr.menu.graph import to_dot, to_mermaid
from ivr.menu.load import check_menu, load_menu
from ivr.menu.source import Severity
from ivr.softphone.menu_json import menu_json
from tests.menu.test_menu_lint import PROMPTS, TINY, line_with, write_tiny

SAID = """\
speech: {confidence: 0.5, repeat: {zh-CN: [重听], en-US: [repeat]}}
"""
# The tiny menu, listening: a phrase for each option in both languages.
LISTENING = (
    TINY.replace("nodes:\n", SAID + "nodes:\n")
    .replace(
        "next: main}\n  ask_id",
        "next: main, say: {zh-CN: [余额], en-US: [balance]}}\n  ask_id",
    )
    .replace("agent: {type: agent}", "agent: {type: agent, say: {zh-CN: [人工], en-US: [agent]}}")
)


def problems(tmp_path: Path, menu: str) -> list:
    """Every problem `menu check` finds in a variant of the tiny menu."""
    return check_menu(write_tiny(tmp_path, menu)).problems


def test_the_listening_tiny_menu_is_clean_and_reads_as_written(tmp_path: Path) -> None:
    checked = check_menu(write_tiny(tmp_path, LISTENING))
    assert checked.problems == [] and checked.menu is not None
    menu = checked.menu
    assert menu.speech == Speech(True, 0.5, {"zh-CN": ("重听",), "en-US": ("repeat",)})
    assert dict(menu.nodes["balance"].say) == {"zh-CN": ("余额",), "en-US": ("balance",)}


def test_a_menu_without_speech_is_keypad_only(tmp_path: Path) -> None:
    assert check_menu(write_tiny(tmp_path)).menu.speech == Speech(enabled=False)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "enabled", "confidence"),
    [("true", True, 0.4), ("false", False, 0.4), ("{confidence: 1}", True, 1.0),
     ("{enabled: false, confidence: 0}", False, 0.0)],
)  # fmt: skip
def test_the_speech_switch(tmp_path: Path, raw: str, enabled: bool, confidence: float) -> None:
    menu = load_menu(write_tiny(tmp_path, TINY.replace("nodes:\n", f"speech: {raw}\nnodes:\n")))
    assert (menu.speech.enabled, menu.speech.confidence) == (enabled, confidence)


def test_an_option_may_carry_its_own_phrases(tmp_path: Path) -> None:
    text = LISTENING.replace('"1": balance', '"1": {to: balance, say: {zh-CN: [查余额]}}')
    menu = load_menu(write_tiny(tmp_path, text))
    node = menu.nodes["main"]
    assert node.options[Key.ONE] == "balance"
    assert dict(node.option_say[Key.ONE]) == {"zh-CN": ("查余额",)}


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (("speech: {confidence: 0.5, ", "speech: maybe\nx: {"), "speech",
         "expected true, false or a mapping"),
        (("confidence: 0.5", "confidence: 1.5"), "speech.confidence", "1.5 is not from 0 to 1"),
        (("confidence: 0.5", "confidence: high"), "speech.confidence",
         "expected a number from 0 to 1"),
        (("confidence: 0.5", "loud: true"), "speech.loud", "unknown key"),
        (("confidence: 0.5", "enabled: yes please"), "speech.enabled", "expected true or false"),
        (("field: id, prompt: ask_id,", "field: id, prompt: ask_id, say: {zh-CN: [身份证]},"),
         "nodes.ask_id.say", "an ID or PIN input is keyed, never said"),
        (("say: {zh-CN: [余额], en-US: [balance]}", "say: 余额"), "nodes.balance.say",
         "expected phrases per language"),
        (("say: {zh-CN: [余额], en-US: [balance]}", "say: {zh-CN: [], en-US: [balance]}"),
         "nodes.balance.say.zh-CN", "expected a phrase or a list of phrases"),
        (("say: {zh-CN: [余额], en-US: [balance]}", "say: {zh-CN: ['！？'], en-US: [balance]}"),
         "nodes.balance.say.zh-CN.0", "has no word or character to match"),
        (("say: {zh-CN: [余额], en-US: [balance]}", "say: {zh-CN: ['余额，账户'], en-US: [b]}"),
         "nodes.balance.say.zh-CN.0", "has a comma"),
        (("say: {zh-CN: [余额], en-US: [balance]}", f"say: {{zh-CN: [{'余' * 101}], en-US: [b]}}"),
         "nodes.balance.say.zh-CN.0", "at most 100 characters"),
        (('"1": balance', '"1": {say: {zh-CN: [余额]}}'), "nodes.main.options['1']",
         "expected a target, or {to: target, say: phrases}"),
        (('"1": balance', '"1": {to: balance, with: x}'), "nodes.main.options['1']",
         "expected a target, or {to: target, say: phrases}"),
        (("prompt: tiny_menu\n", "prompt: tiny_menu\n    speech: sometimes\n"),
         "nodes.main.speech", "expected true or false"),
        (("next: main, say:", "next: main, speech: false, say:"), "nodes.balance.speech",
         "only a menu (or input) node waits for speech"),
    ],
)  # fmt: skip
def test_what_the_reader_refuses(
    tmp_path: Path, edit: tuple[str, str], key: str, message: str
) -> None:
    """Each malformed speech part stops the read at its key and line, with what is wrong."""
    assert edit[0] in LISTENING
    text = LISTENING.replace(*edit)
    found = problems(tmp_path, text)
    assert len(found) == 1 and found[0].key == key and message in found[0].message, found
    lines = [line.strip() for line in edit[1].split("\n") if line.strip()]
    last = key.rpartition(".")[2]
    where = next((line for line in lines if line.startswith(last)), lines[0])
    assert found[0].line == line_with(text, where[:20])


def rules(tmp_path: Path, menu: str, **prompts: str) -> list[tuple[str, Severity, str]]:
    """(rule, severity, key) of each problem of a listening variant of the tiny menu."""
    checked = check_menu(write_tiny(tmp_path, menu, **prompts))
    return [(p.rule, p.severity, p.key) for p in checked.problems]


@pytest.mark.parametrize(
    ("phrase", "other"),
    [("余额", "余额"), ("余额", "于额"), ("Balance", "balance!"), ("人 工", "人工")],
    ids=["same-characters", "same-pinyin", "same-words", "spaces-and-case"],
)
def test_two_places_sharing_a_phrase_is_an_error(tmp_path: Path, phrase: str, other: str) -> None:
    text = LISTENING.replace("[余额]", f"['{phrase}']").replace("[人工]", f"['{other}']")
    found = rules(tmp_path, text)
    assert ("phrase-clash", Severity.ERROR, "nodes.main") in found
    assert {rule for rule, _, _ in found} == {"phrase-clash"}


def test_a_listening_menu_warns_of_an_option_no_one_can_say(tmp_path: Path) -> None:
    text = LISTENING.replace(", en-US: [balance]", "")
    assert rules(tmp_path, text) == [
        ("unspoken-option", Severity.WARNING, "nodes.main.options['1']")
    ]
    message = check_menu(write_tiny(tmp_path, text)).problems[0]
    assert "has no phrase in en-US" in message.message and "nodes.balance.say" in message.hint


def test_repeat_needs_phrases_too(tmp_path: Path) -> None:
    text = LISTENING.replace(", repeat: {zh-CN: [重听], en-US: [repeat]}", "")
    assert (
        rules(tmp_path, text)
        == [("unspoken-option", Severity.WARNING, "nodes.main.options['*']")] * 2
    )  # in each language


def test_an_id_or_pin_prompt_that_would_listen_is_an_error(tmp_path: Path) -> None:
    text = LISTENING.replace(
        "field: pin, prompt: ask_pin", "field: pin, prompt: ask_pin, speech: true"
    )
    assert rules(tmp_path, text) == [("speech-input", Severity.ERROR, "nodes.ask_pin.speech")]


def test_phrases_only_in_the_menus_languages(tmp_path: Path) -> None:
    text = LISTENING.replace("en-US: [balance]", "en-US: [balance], fr-FR: [solde]")
    assert rules(tmp_path, text) == [("menu", Severity.ERROR, "nodes.balance.say.fr-FR")]


def test_a_listening_menu_needs_its_speech_prompts_in_every_language(tmp_path: Path) -> None:
    menu = LISTENING
    for code in ("zh-CN", "en-US"):  # the shared prompt files, without the speech prompts
        text = (PROMPTS / f"{code}.yaml").read_text(encoding="utf-8")
        kept = [line for line in text.splitlines() if not line.startswith("  speech_")]
        (tmp_path / f"own-{code}.yaml").write_text("\n".join(kept) + "\n", encoding="utf-8")
        menu = menu.replace(str(PROMPTS / f"{code}.yaml"), str(tmp_path / f"own-{code}.yaml"))
    assert sorted(rules(tmp_path, menu)) == sorted(
        ("missing-prompt", Severity.ERROR, f"prompts.{name}")
        for name in ("speech_hint", "speech_unclear", "speech_keys_only")
        for _ in ("zh-CN", "en-US")
    )
    # Keypad-only, the same files are fine: speech prompts are needed only where speech is.
    assert rules(tmp_path, menu.replace("speech: {", "speech: {enabled: false, ")) == []


def test_off_the_hint_is_not_spoken_and_no_phrase_is_required(tmp_path: Path) -> None:
    text = TINY.replace("prompt: welcome", "prompt: [welcome, speech_hint]")
    assert rules(tmp_path, text) == []


@pytest.mark.parametrize("menu_file", ["12333.yaml", "12393.yaml"])
def test_the_shipped_menus_listen_and_every_option_has_phrases(menu_file: str) -> None:
    checked = check_menu(PROMPTS / menu_file)
    assert checked.problems == [] and checked.menu is not None and checked.menu.speech.enabled


def test_the_pictures_show_the_phrases() -> None:
    menu = load_menu(PROMPTS / "12333.yaml")
    assert "“医保余额 / 个人账户余额<br/>/ 账户余额 …”" in to_mermaid(menu)
    assert "“家庭共济 / 共济绑定 /\\n共济”" in to_dot(menu)
    console = Console(width=200, record=True)
    console.print(menu_tree(menu))
    shown = console.export_text()
    assert "say “医保余额 / 个人账户余额 / 账户余额 …” “account balance / balance”" in shown
    # Deep links from the main menu: phrases that reach a service with no key there.
    assert "say → balance (no key)" in shown and "say → family (no key)" in shown
    nodes = {node["name"]: node for node in menu_json(menu)["nodes"]}
    assert nodes["family"]["say"]["en-US"] == ["family mutual aid", "family", "mutual aid",
                                               "bindings"]  # fmt: skip
    assert nodes["ask_pin"]["say"] == {}
