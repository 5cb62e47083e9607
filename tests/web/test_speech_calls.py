"""Speech navigation through the simulator on the real hotline, both backends: every phrase
the menus declare, said in both languages, and the keypad-only identity prompts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from ivr.core.edges import phrases, spoken
from ivr.core.events import Took
from ivr.qa.load import load_script
from ivr.qa.model import Outcome
from ivr.qa.run import run_script
from ivr.sim.caller import Caller
from ivr.sim.speech import NotListening
from ivr.sim.turns import TurnKind
from store.demo import ZHANG_WEI

PIN = "123456"  # 张伟's
LANGS = {"zh-CN": [], "en-US": ["9"]}  # the keys that put a call in each language


def reach(caller: Caller, node: str, lang: str) -> None:
    """Dial and go to `node` (main, or medical once verified) in `lang`, by keys."""
    caller.dial()
    for keys in LANGS[lang]:
        caller.press(keys)
    if node == "medical":
        for keys in ("2", ZHANG_WEI + "#", PIN + "#"):
            caller.press(keys)


def traced(caller: Caller) -> list[Took]:
    """The paths the engine took in the call's last request."""
    last = next(t for t in reversed(caller.transcript) if t.kind == TurnKind.REQUEST)
    return [step for step in last.trace or () if isinstance(step, Took)]


def spoken_paths(app: Flask) -> list[tuple[str, str, str]]:
    """(menu, target, path) of every phrase path of the main and medical menus."""
    menu = app.extensions["ivr"].menu
    return [
        (node, edge.target or "", edge.path)
        for node in ("main", "medical")
        for edge in spoken(menu, menu.nodes[node])
    ]


@pytest.mark.parametrize("lang", list(LANGS))
def test_every_phrase_path_is_taken_when_its_first_phrase_is_said(
    app: Flask, make_caller: Callable[..., Caller], lang: str
) -> None:
    menu = app.extensions["ivr"].menu
    paths = spoken_paths(app)
    assert len(paths) >= 14  # main: its options and deep links; medical: its options
    for node, target, path in paths:
        caller = make_caller()
        reach(caller, node, lang)
        said = phrases(menu, menu.nodes[node], target, lang)[0]
        caller.say(said)
        assert Took(node, path) in traced(caller), (node, said, traced(caller))


@pytest.mark.parametrize("lang", list(LANGS))
def test_a_deep_link_to_the_statement_checks_identity_first(make_caller, lang: str) -> None:
    caller = make_caller()
    reach(caller, "main", lang)
    asked = caller.say("我想查账户明细" if lang == "zh-CN" else "my account statement please")
    assert ("十八位身份证号码" if lang == "zh-CN" else "eighteen-digit ID number") in asked
    caller.press(ZHANG_WEI + "#")
    page = caller.press(PIN + "#")
    assert ("在定点药店支付五十八元九角" if lang == "zh-CN" else "fifty-eight yuan") in page


@pytest.mark.parametrize(
    ("said", "confidence"),
    [("医疗保险", 0.39), ("今天天气怎么样", 0.9), ("余额和明细", 0.9)],
    ids=["unsure", "no match", "a tie"],
)
def test_what_speech_cannot_settle_is_asked_again(make_caller, said: str, confidence) -> None:
    caller = make_caller()
    caller.dial()
    heard = caller.say(said, confidence)
    assert heard.startswith("抱歉，没有听清，请再说一遍或按键选择。社会保险查询请按一")
    assert Took("main", "invalid key") in traced(caller)


@pytest.mark.parametrize("keys", [[], ["2"], ["2", ZHANG_WEI + "#"]], ids=["main", "id", "pin"])
def test_only_menus_listen_and_a_refused_say_changes_nothing(make_caller, keys) -> None:
    caller = make_caller()
    caller.dial()
    for each in keys:
        caller.press(each)
    if not keys:  # the main menu listens: saying is taken
        assert "十八位身份证号码" in caller.say("医疗保险")
        return
    before = len(caller.transcript)
    with pytest.raises(NotListening, match="takes keys only"):
        caller.say("一二三四五六")
    assert len(caller.transcript) == before  # nothing was sent: the call can go on by keys
    assert caller.press(ZHANG_WEI + "#" if len(keys) == 1 else PIN + "#")


def test_a_script_that_says_its_pin_fails_with_a_clear_message(make_caller, tmp_path: Path) -> None:
    script = tmp_path / "spoken_pin.yaml"
    script.write_text(
        "name: spoken PIN\nsteps:\n  - press: '2'\n  - press: '310101198507072013#'\n"
        "  - say: 一二三四五六\n",
        encoding="utf-8",
    )
    result = run_script(load_script(script), make_caller())
    assert result.outcome == Outcome.FAILED
    assert "takes keys only" in result.failure and "一二三四五六" not in result.failure


def test_with_voice_input_off_the_menus_take_keys_only(make_app, demo_prepared, make_caller):
    app = make_app(IVR_VOICE_INPUT="off")
    caller = make_caller(app)
    caller.dial()
    with pytest.raises(NotListening):
        caller.say("医疗保险")
    assert "十八位身份证号码" in caller.press("2")
