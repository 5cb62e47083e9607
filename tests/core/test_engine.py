"""The pure menu engine, stepped directly: no Flask, no database, no TTS."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from ivr.core.engine import step
from ivr.core.events import (
    CallState,
    CheckPin,
    Env,
    Fetch,
    Fetched,
    Gather,
    Hangup,
    Identified,
    Identify,
    Keys,
    PinChecked,
    Reached,
    Resume,
    Say,
    Silence,
    Start,
    Took,
    Transfer,
)
from ivr.core.identity import IdKind
from ivr.core.model import Service
from ivr.menu.load import load_menu
from store.records import BalanceData, FamilyData, InsuredData, PinOutcome

ROOT = Path(__file__).resolve().parents[2]
HOURS = {"zh-CN": "八点至十七点", "en-US": "eight to five"}  # the hours in words, by language
ENV = Env(today=date(2026, 11, 25), agents_open=True, agent_hours_text=HOURS)
CLOSED = Env(today=date(2026, 11, 25), agents_open=False, agent_hours_text=HOURS)


@pytest.fixture(scope="module")
def menu():
    """The shipped default menu."""
    return load_menu(ROOT / "prompts" / "12333.yaml")


def spoken(actions) -> list[str]:
    """The texts of the Say actions."""
    return [a.text for a in actions if isinstance(a, Say)]


def says(actions) -> list[Say]:
    """The Say actions, each with its language."""
    return [a for a in actions if isinstance(a, Say)]


def at(menu, node: str, **fields) -> CallState:
    """A state waiting at `node`."""
    return CallState(node=node, menu="main", **fields)


def test_start_welcomes_and_waits_at_the_main_menu(menu) -> None:
    state, actions = step(menu, CallState(node="x"), Start(ENV))
    assert state.node == "main" and state.menu == "main" and not state.ended
    # The shipped menu listens: the welcome tells callers once that they may say what they need.
    assert spoken(actions) == [menu.text("welcome"), menu.text("speech_hint")]
    gather = actions[-1]
    assert isinstance(gather, Gather)
    assert (gather.node, gather.num_digits, gather.finish_on_key) == ("main", 1, "")
    # The menu in Mandarin, then the offer of English service in the English voice.
    assert gather.prompts == (
        Say(menu.text("main_menu"), "zh-CN"),
        Say(menu.text("language_offer"), "en-US"),
    )
    assert state.lang is None  # the menu's own language until the caller chooses


@pytest.mark.parametrize(
    ("lang", "switched"), [(None, "en-US"), ("zh-CN", "en-US"), ("en-US", "zh-CN")]
)
def test_nine_switches_the_language_and_reads_the_menu_in_it(
    menu, lang: str | None, switched: str
) -> None:
    state, actions = step(menu, at(menu, "main", lang=lang), Keys("9", ENV))
    assert (state.node, state.lang, state.ended) == ("main", switched, False)
    said = [Say(menu.text(p, switched), switched) for p in ("language_set", "speech_hint")]
    assert says(actions) == said  # and, now that it is spoken, that speech is heard
    gather = actions[-1]
    assert isinstance(gather, Gather) and gather.node == "main"
    other = "zh-CN" if switched == "en-US" else "en-US"  # the offer to switch back
    assert gather.prompts == (
        Say(menu.text("main_menu", switched), switched),
        Say(menu.text("language_offer", switched), other),
    )


def test_the_call_language_carries_to_later_prompts_and_the_hours(menu) -> None:
    state = at(menu, "main", lang="en-US")
    _, actions = step(menu, state, Keys("0", CLOSED))
    closed = menu.text("agent_closed", "en-US", hours=HOURS["en-US"])
    assert says(actions) == [Say(closed, "en-US")]
    _, actions = step(menu, state, Keys("7", ENV))
    assert says(actions) == [Say(menu.text("invalid_key", "en-US"), "en-US")]
    state = at(menu, "ask_pin", lang="en-US", person_id=7)
    _, actions = step(menu, state, PinChecked(PinOutcome.WRONG, ENV))
    assert says(actions) == [Say(menu.text("auth_failed", "en-US", remaining="two"), "en-US")]


def test_a_service_needing_identity_detours_through_the_id_prompt(menu) -> None:
    state, actions = step(menu, at(menu, "main"), Keys("2", ENV))
    assert state.node == "ask_id" and state.after_auth == "medical"
    assert isinstance(actions[-1], Gather) and actions[-1].finish_on_key == "#"


def test_id_entry_becomes_an_identify_effect_that_hides_the_number(menu) -> None:
    state, actions = step(menu, at(menu, "ask_id"), Keys("65010219680312109*", ENV))
    effect = actions[-1]
    assert effect == Identify(IdKind.ID, "65010219680312109X")
    assert "65010219680312109" not in repr(effect)
    assert state.node == "ask_id"  # the engine waits for the result


def test_card_entry_is_identified_as_a_card(menu) -> None:
    _, actions = step(menu, at(menu, "ask_id"), Keys("650100017", ENV))
    assert actions[-1] == Identify(IdKind.CARD, "650100017")


def test_unknown_person_still_goes_on_to_the_pin(menu) -> None:
    state, actions = step(menu, at(menu, "ask_id"), Identified(None, "probe-key", ENV))
    assert state.node == "ask_pin" and state.identified and state.person_id is None
    _, actions = step(menu, state, Keys("123456", ENV))
    assert actions[-1] == CheckPin(None, "probe-key", "123456")
    assert "123456" not in repr(actions[-1])


def test_verified_caller_reaches_the_service_after_identity(menu) -> None:
    state = at(menu, "ask_pin", person_id=7, identified=True, after_auth="balance")
    state, actions = step(menu, state, PinChecked(PinOutcome.OK, ENV))
    assert state.verified and state.after_auth is None
    assert actions[-1] == Fetch(Service.BALANCE, 7)
    state, actions = step(menu, state, Fetched(BalanceData(123456, date(2026, 11, 1)), ENV))
    balance = menu.text("balance", amount="一千二百三十四元五角六分", as_of="二零二六年十一月一日")
    assert actions[0] == Say(balance, "zh-CN")
    assert state.node == "medical" and isinstance(actions[-1], Gather)


def test_read_back_is_in_the_call_language(menu) -> None:
    state = at(menu, "balance", verified=True, person_id=7, lang="en-US")
    _, actions = step(menu, state, Fetched(BalanceData(123456, date(2026, 11, 1)), ENV))
    amount = "one thousand two hundred and thirty-four yuan and fifty-six fen"
    assert actions[0] == Say(
        menu.text("balance", "en-US", amount=amount, as_of="November first, twenty twenty-six"),
        "en-US",
    )


@pytest.mark.parametrize(("failures", "left"), [(0, "两"), (1, "一")])
def test_wrong_pin_counts_and_asks_for_the_id_again(menu, failures: int, left: str) -> None:
    state = at(menu, "ask_pin", person_id=7, identified=True, auth_failures=failures)
    state, actions = step(menu, state, PinChecked(PinOutcome.WRONG, ENV))
    assert spoken(actions) == [menu.text("auth_failed", remaining=left)]
    assert state.node == "ask_id" and state.person_id is None and not state.identified


def test_third_failure_hangs_up(menu) -> None:
    state = at(menu, "ask_pin", auth_failures=2)
    state, actions = step(menu, state, PinChecked(PinOutcome.WRONG, ENV))
    assert state.ended and isinstance(actions[-1], Hangup)


@pytest.mark.parametrize("outcome", [PinOutcome.LOCKED, PinOutcome.JUST_LOCKED])
def test_locked_person_hears_the_lock_and_returns_to_the_menu(menu, outcome) -> None:
    state, actions = step(menu, at(menu, "ask_pin", person_id=7), PinChecked(outcome, ENV))
    assert any("您的查询密码已锁定" in text for text in spoken(actions))
    assert state.node == "main" and not state.verified


def test_invalid_limit_transfers_in_hours_and_hangs_up_outside(menu) -> None:
    state = at(menu, "main", invalid=2)
    open_state, actions = step(menu, state, Keys("8", ENV))
    assert open_state.ended and isinstance(actions[-1], Transfer)
    closed_state, actions = step(menu, state, Keys("8", CLOSED))
    assert closed_state.ended and isinstance(actions[-1], Hangup)


def test_silence_counts_separately_from_invalid_keys(menu) -> None:
    state, _ = step(menu, at(menu, "main", invalid=2), Silence(ENV))
    assert (state.no_input, state.invalid, state.ended) == (1, 2, False)


def test_resume_repeats_the_waiting_prompt_without_counting(menu) -> None:
    state = at(menu, "ask_pin", no_input=1, invalid=1)
    new, actions = step(menu, state, Resume(ENV))
    assert (new.no_input, new.invalid) == (1, 1)
    assert [a for a in actions if isinstance(a, Gather)][0].node == "ask_pin"


def test_keys_after_the_call_ended_only_say_goodbye(menu) -> None:
    state, actions = step(menu, at(menu, "main", ended=True), Keys("2", ENV))
    assert state.ended and spoken(actions) == [menu.text("goodbye")]
    assert isinstance(actions[-1], Hangup)


def test_family_and_status_read_backs_go_back_to_their_menus(menu) -> None:
    state = at(menu, "family", verified=True, person_id=1)
    _, actions = step(menu, state, Fetched(FamilyData((), ()), ENV))
    assert spoken(actions) == [menu.text("family_none")] and actions[-1].node == "medical"
    state = at(menu, "social", verified=True, person_id=1)
    _, actions = step(menu, state, Fetched(InsuredData("suspended", "resident", "999999"), ENV))
    status = {"status": "暂停参保", "scheme": "城乡居民基本医疗保险", "region": "九九九九九九"}
    assert spoken(actions)[0] == menu.text("social_status", **status)
    assert actions[-1].node == "main"


WANG_ID = "65010219680312109*"
BALANCE = BalanceData(123456, date(2026, 11, 1))
VERIFIED = {"verified": True, "person_id": 7, "identified": True}


def trace(actions) -> list[Reached | Took]:
    """The actions that trace where the call went."""
    return [a for a in actions if isinstance(a, Reached | Took)]


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        # `next` chains: the welcome speaks, then goes on to the main menu.
        (CallState(node="x"), Start(ENV),
         [Reached("welcome"), Took("welcome", "next"), Reached("main")]),
        # A menu option, past the identity gate once verified.
        (at(None, "main", **VERIFIED), Keys("2", ENV),
         [Took("main", "key 2 -> medical"), Reached("medical")]),
        # The identity gate: the node asked for is not reached, the ID prompt is.
        (at(None, "main"), Keys("1", ENV),
         [Took("main", "key 1 -> social"), Took("social", "identity gate"), Reached("ask_id")]),
        (at(None, "main"), Keys("*", ENV), [Took("main", "key * -> repeat")]),
        (at(None, "main"), Keys("9", ENV), [Took("main", "key 9 -> language"),
         Reached("language"), Took("language", "next"), Reached("main")]),
        (at(None, "main"), Keys("0", ENV), [Took("main", "key 0 -> agent"), Reached("agent")]),
        # Outside agent hours the agent node reads them and sends the call back to its menu.
        (at(None, "main"), Keys("0", CLOSED),
         [Took("main", "key 0 -> agent"), Reached("agent"), Reached("main")]),
        (at(None, "main"), Keys("7", ENV), [Took("main", "invalid key")]),
        (at(None, "main"), Keys("12", ENV), [Took("main", "invalid key")]),
        (at(None, "main", invalid=2), Keys("7", ENV),
         [Took("main", "invalid key"), Took("main", "invalid limit")]),
        (at(None, "main", invalid=2), Keys("7", CLOSED),
         [Took("main", "invalid key"), Took("main", "invalid limit")]),
        (at(None, "medical", **VERIFIED), Silence(ENV), [Took("medical", "timeout")]),
        (at(None, "medical", no_input=2, **VERIFIED), Silence(ENV),
         [Took("medical", "timeout"), Took("medical", "no-input limit")]),
        # Every entry is an input; a refused one is an invalid entry too.
        (at(None, "ask_id"), Keys(WANG_ID, ENV), [Took("ask_id", "input")]),
        (at(None, "ask_id"), Keys("123", ENV), [Took("ask_id", "input"),
                                                Took("ask_id", "invalid key")]),
        (at(None, "ask_pin", invalid=2), Keys("12", ENV),
         [Took("ask_pin", "input"), Took("ask_pin", "invalid key"),
          Took("ask_pin", "invalid limit")]),
        (at(None, "ask_pin", person_id=7), Keys("123456", ENV), [Took("ask_pin", "input")]),
        (at(None, "ask_id"), Identified(7, None, ENV),
         [Took("ask_id", "next"), Reached("ask_pin")]),
        # A verified caller reaches the node the gate held back; a failed one is asked again.
        (at(None, "ask_pin", person_id=7, after_auth="medical"), PinChecked(PinOutcome.OK, ENV),
         [Reached("medical")]),
        (at(None, "ask_pin", person_id=7), PinChecked(PinOutcome.WRONG, ENV), [Reached("ask_id")]),
        (at(None, "ask_pin", person_id=7), PinChecked(PinOutcome.LOCKED, ENV), [Reached("main")]),
        (at(None, "ask_pin", auth_failures=2), PinChecked(PinOutcome.WRONG, ENV), []),
        (at(None, "balance", **VERIFIED), Fetched(BALANCE, ENV),
         [Took("balance", "next"), Reached("medical")]),
        # Nothing moves: a stale request answered from where the call is, or an ended call.
        (at(None, "main", no_input=1), Resume(ENV), []),
        (at(None, "main", ended=True), Keys("2", ENV), []),
        (at(None, "main", ended=True), Silence(ENV), []),
    ],
)  # fmt: skip
def test_each_step_traces_the_nodes_reached_and_the_paths_taken(
    menu, state: CallState, event, expected: list
) -> None:
    _, actions = step(menu, state, event)
    assert trace(actions) == expected


def test_a_trace_names_no_keyed_entry(menu) -> None:
    """Node and path names only: the ID and PIN keyed never appear in the trace."""
    _, id_actions = step(menu, at(menu, "ask_id"), Keys(WANG_ID, ENV))
    _, pin_actions = step(menu, at(menu, "ask_pin", person_id=7), Keys("135790", ENV))
    names = repr(trace(id_actions) + trace(pin_actions))
    assert "6501021968" not in names and "135790" not in names


def test_step_refuses_something_that_is_not_an_event(menu) -> None:
    with pytest.raises(TypeError):
        step(menu, at(menu, "main"), "2")  # type: ignore[arg-type]


def test_the_engine_imports_no_flask_database_or_tts() -> None:
    code = (
        "import sys, ivr.core.engine\n"
        "bad = [m for m in ('flask', 'sqlalchemy', 'pyttsx3', 'twilio') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
