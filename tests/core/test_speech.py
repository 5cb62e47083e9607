"""Speech navigation in the engine: every phrase of both shipped menus in both languages,
deep links, homophone slips, low confidence, no match, a tie, and ID and PIN prompts that
take keys only. Pure: no web, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from ivr.core.edges import EdgeKind, edges, phrases, spoken
from ivr.core.engine import step
from ivr.core.events import CallState, Env, Fetch, Gather, Reached, Speech, Start, Took
from ivr.core.model import Menu, Service
from ivr.core.phrases import Verdict, best, clash, normalise, tokens
from ivr.menu.load import load_menu

ROOT = Path(__file__).resolve().parents[2]
MENUS = {name: load_menu(ROOT / "prompts" / f"{name}.yaml") for name in ("12333", "12393")}
MENU = MENUS["12333"]
ENV = Env(today=date(2026, 11, 25), agents_open=True, agent_hours_text={})
SENTENCE = {"zh-CN": "我想{}。", "en-US": "I'd like {}, please."}  # a phrase inside a sentence


def at(node: str, lang: str | None = None, verified: bool = True, **more: object) -> CallState:
    """A call waiting at `node`."""
    return CallState(node=node, menu=node, verified=verified, person_id=7, lang=lang, **more)


def said(menu: Menu, state: CallState, text: str, confidence: float = 0.9):
    """Step the engine with a phrase said."""
    return step(menu, state, Speech(text, confidence, ENV))


def traced(actions: list) -> list[str]:
    """The paths a step took, as node:path."""
    return [f"{a.node}:{a.path}" for a in actions if isinstance(a, Took)]


CASES = [
    pytest.param(name, edge, lang, phrase, id=f"{name}-{edge.node}-{lang}-{phrase}")
    for name, menu in MENUS.items()
    for node in menu.nodes.values()
    for edge in spoken(menu, node)
    for lang in menu.languages
    for phrase in phrases(menu, node, str(edge.target), lang)
]


@pytest.mark.parametrize(("name", "edge", "lang", "phrase"), CASES)
def test_every_phrase_leads_where_its_edge_says(name: str, edge, lang: str, phrase: str) -> None:
    """Each phrase of each option and deep link, in a sentence, in both languages."""
    menu = MENUS[name]
    after, actions = said(menu, at(edge.node, lang), SENTENCE[lang].format(phrase))
    assert Took(edge.node, edge.path) in actions
    if edge.target == edge.node:  # 重听: the same menu, again
        assert after.node == edge.node and isinstance(actions[-1], Gather)
    else:
        assert Reached(str(edge.target)) in actions or after.node == edge.target
    assert after.invalid == 0 and not after.ended or edge.target == "agent"


def test_both_languages_and_every_speech_edge_are_exercised() -> None:
    """The table above is not empty anywhere it should not be."""
    for menu in MENUS.values():
        for node in menu.nodes.values():
            for edge in spoken(menu, node):
                for lang in menu.languages:
                    assert phrases(menu, node, str(edge.target), lang), (edge, lang)
    assert {edge.path for _, edge, _, _ in (c.values for c in CASES)} >= {
        "say -> balance", "say -> family", "say -> agent", "say -> repeat", "say -> social",
        "say -> medical", "say -> language", "say -> main",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "lang", "service"),
    [
        ("我想查医保余额", None, Service.BALANCE),
        ("查一下于额", None, Service.BALANCE),  # 于额: heard for 余额
        ("家庭供给", None, Service.FAMILY),  # 供给: heard for 共济
        ("ＡＣＣＯＵＮＴ　ＢＡＬＡＮＣＥ！", "en-US", Service.BALANCE),  # full-width, shouted
        ("Check my family mutual aid bindings", "en-US", Service.FAMILY),
        ("我的参保状态", None, Service.SOCIAL_STATUS),
    ],
)
def test_a_deep_link_from_the_main_menu_goes_straight_to_the_service(
    text: str, lang: str | None, service: Service
) -> None:
    """Verified, the service is read at once; unverified, the identity check comes first and
    then the service, never the menu in between."""
    _, actions = said(MENU, at("main", lang), text)
    assert actions[-1] == Fetch(service, 7)
    assert not any(isinstance(a, Reached) and a.node == "medical" for a in actions)
    after, actions = said(MENU, at("main", lang, verified=False), text)
    assert after.node == "ask_id" and after.after_auth == service.value.replace("_status", "")


@pytest.mark.parametrize("node", ["main", "medical"])
@pytest.mark.parametrize(
    ("text", "lang"), [("转人工", None), ("人工服务", None), ("agent", "en-US")]
)
def test_an_agent_from_any_menu(node: str, text: str, lang: str | None) -> None:
    after, actions = said(MENU, at(node, lang), text)
    assert f"{node}:say -> agent" in traced(actions) and after.ended  # agents open: transferred


@pytest.mark.parametrize(
    ("text", "confidence", "why"),
    [
        ("余额", 0.39, "speech unsure"),  # below the menu's 0.4
        ("今天天气怎么样", 0.9, "speech no match"),
        ("余额还是共济", 0.9, "speech tie"),  # two services, phrases of the same length
        ("", 0.9, "speech no match"),
    ],
)
def test_not_understood_counts_as_an_invalid_entry(text: str, confidence: float, why: str) -> None:
    state = at("medical")
    after, actions = said(MENU, state, text, confidence)
    assert after.node == "medical" and after.invalid == 1
    assert traced(actions) == ["medical:invalid key"]
    assert why in [a.outcome for a in actions if hasattr(a, "outcome")]
    assert MENU.text("speech_unclear") in [getattr(a, "text", None) for a in actions]
    # The invalid limit applies as to keys: the third in a row goes to the agent.
    limited = replace(state, invalid=MENU.limits.invalid - 1)
    after, actions = said(MENU, limited, text, confidence)
    assert "medical:invalid limit" in traced(actions) and after.ended


def test_the_threshold_is_the_menus() -> None:
    assert said(MENU, at("medical"), "余额", 0.4)[1][-1] == Fetch(Service.BALANCE, 7)
    strict = replace(MENU, speech=replace(MENU.speech, confidence=0.95))
    assert said(strict, at("medical"), "余额", 0.94)[0].invalid == 1


@pytest.mark.parametrize("node", ["ask_id", "ask_pin"])
@pytest.mark.parametrize("text", ["一二三四五六", "135790", "余额"])
def test_speech_at_an_id_or_pin_prompt_is_an_invalid_entry(node: str, text: str) -> None:
    """Keys only there: nothing said is taken as an entry, whatever it says."""
    state = at(node, verified=False, identified=node == "ask_pin")
    after, actions = said(MENU, state, text, 0.99)
    assert after.node == node and after.invalid == 1
    assert traced(actions) == [f"{node}:invalid key"]  # not even an input taken
    assert MENU.text("speech_keys_only") in [getattr(a, "text", None) for a in actions]
    assert not any(type(a).__name__ in ("CheckPin", "Identify") for a in actions)


def test_id_and_pin_gathers_never_listen_while_menus_do() -> None:
    for name, node in MENU.nodes.items():
        if node.type.value in ("menu", "input"):
            _, actions = step(MENU, at(name, verified=name != "ask_id"), Speech("重听", 1, ENV))
            gather = actions[-1]
            assert isinstance(gather, Gather)
            assert (gather.listen is not None) == (node.type.value == "menu"), name


def test_a_listening_gather_hints_the_phrases_in_the_callers_language() -> None:
    _, actions = said(MENU, at("medical", "en-US"), "repeat")
    listen = actions[-1].listen
    assert listen is not None and listen.lang == "en-US"
    assert {"account balance", "family mutual aid", "agent", "repeat", "go back"} <= set(
        listen.hints
    )
    assert not any("余额" in hint for hint in listen.hints)


def test_speech_off_is_keys_only_and_says_nothing_of_it() -> None:
    off = replace(MENU, speech=replace(MENU.speech, enabled=False))
    start = step(off, CallState("x"), Start(ENV))[1]
    assert MENU.text("speech_hint") not in [getattr(a, "text", None) for a in start]
    assert start[-1].listen is None
    assert all(e.kind != EdgeKind.SPEECH for n in off.nodes.values() for e in edges(off, n))
    after, actions = said(off, at("main"), "余额")
    assert after.invalid == 1 and MENU.text("invalid_key") in [
        getattr(a, "text", 0) for a in actions
    ]


def test_a_chinese_phrase_in_an_english_call_is_not_understood() -> None:
    assert said(MENU, at("medical", "en-US"), "余额")[0].invalid == 1


@pytest.mark.parametrize(
    ("utterance", "choices", "verdict", "chosen"),
    [
        ("查医保余额", [("a", ["医保"]), ("b", ["医保余额"])], Verdict.MATCH, "b"),  # longest
        ("于额", [("a", ["余额"]), ("b", ["于额"])], Verdict.MATCH, "b"),  # exact beats sound
        ("余额", [("a", ["于额"]), ("b", ["鱼额"])], Verdict.TIE, None),  # both by sound only
        ("余额共济", [("a", ["余额"]), ("b", ["共济"])], Verdict.TIE, None),
        ("天气", [("a", ["余额"])], Verdict.NONE, None),
        ("my account balance", [("a", ["balance"]), ("b", ["account balance"])],
         Verdict.MATCH, "b"),
        ("balances", [("a", ["balance"])], Verdict.NONE, None),  # whole words only
        ("余 额", [("a", ["余额"])], Verdict.MATCH, "a"),  # spaces between characters
    ],
)  # fmt: skip
def test_best_match(utterance: str, choices, verdict: Verdict, chosen: str | None) -> None:
    assert best(utterance, choices) == (verdict, chosen)


def test_normalising() -> None:
    assert normalise("  Ｈｅｌｌｏ，　世界！ ") == "hello 世界"
    assert [t.text for t in tokens("查 医保-ABC12")] == ["查", "医", "保", "abc12"]
    assert clash("余额", "于额") and clash("Balance", "balance!") and not clash("余额", "余额查询")
