"""The second shipped hotline, 12393 (医保 only), run from YAML alone: IVR_MENU selects it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.config import PROJECT_ROOT
from ivr.core.readback import balance_text
from ivr.menu.load import load_menu
from ivr.sim.caller import Caller, EndState
from store.demo import WANG_JIANGUO, ZHANG_WEI
from store.import_apply import import_data
from store.models import Call, Person
from store.records import BalanceData

MENU_FILE = PROJECT_ROOT / "prompts" / "12393.yaml"
MENU = load_menu(MENU_FILE)
DEFAULT = load_menu(PROJECT_ROOT / "prompts" / "12333.yaml")
WANG_KEYED, WANG_PIN = WANG_JIANGUO[:-1] + "*", "135790"


@pytest.fixture
def app12393(make_app: Callable[..., Flask], demo_prepared) -> Flask:
    """The app serving the 12393 menu, with the demo accounts."""
    app = make_app(IVR_MENU=str(MENU_FILE))
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    return app


@pytest.fixture
def caller12393(make_caller: Callable[..., Caller], app12393: Flask) -> Caller:
    """A caller dialling the 12393 app."""
    return make_caller(app12393)


def balance_of(app: Flask, id_number: str, lang: str = "zh-CN") -> str:
    """What the balance read-back of a person says, from the stored row."""
    with app.extensions["ivr"].sessions() as session:
        row = session.scalars(select(Person).where(Person.id_number == id_number)).one()
    return balance_text(MENU, lang, BalanceData(row.balance_fen, row.balance_as_of))


def test_the_12393_menu_differs_from_the_default() -> None:
    """Its own welcome and key layout; everything else comes from the shared prompt files."""
    assert MENU.text("welcome") != DEFAULT.text("welcome")
    assert "一二三九三" in MENU.text("welcome").replace("幺", "一")
    options = {key.value: target for key, target in MENU.nodes["main"].options.items()}
    assert options == {"1": "balance", "2": "family", "3": "statement", "9": "agent",
                       "8": "language", "*": "repeat"}  # fmt: skip
    assert MENU.text("goodbye") == DEFAULT.text("goodbye")  # from the shared zh-CN.yaml
    assert MENU.languages["zh-CN"].files[0] == DEFAULT.languages["zh-CN"].source


def test_balance_call_through_the_12393_hotline(caller12393: Caller, app12393: Flask) -> None:
    heard = caller12393.dial()
    assert heard.startswith(MENU.text("welcome"))
    assert MENU.text("main_menu") in heard and MENU.text("language_offer") in heard
    assert caller12393.press("1") == MENU.text("ask_id")  # balance needs the caller's identity
    assert caller12393.press(WANG_KEYED + "#") == MENU.text("ask_pin")

    heard = caller12393.press(WANG_PIN + "#")

    assert heard.startswith(balance_of(app12393, WANG_JIANGUO))
    assert heard.endswith(MENU.text("main_menu") + MENU.text("language_offer"))  # back at main
    family = caller12393.press("2")  # verified once: 家庭共济 reads at once
    assert family.startswith(MENU.text("family_payer", count="一"))
    caller12393.hangup()
    assert caller12393.end_state == EndState.CALLER_HANGUP
    with app12393.extensions["ivr"].sessions() as session:
        nodes = session.scalars(select(Call.node)).all()
    assert nodes == ["main"]


def test_english_on_8_and_the_agent_on_9(caller12393: Caller, clock) -> None:
    clock.set("2026-11-25T10:00")  # a Wednesday morning: agents answer
    caller12393.dial()
    english = caller12393.press("8")
    assert english.startswith(MENU.text("language_set", "en-US"))
    assert MENU.text("main_menu", "en-US") in english and "press eight" not in english
    assert caller12393.press("1") == MENU.text("ask_id", "en-US")
    caller12393.press(ZHANG_WEI + "#")
    heard = caller12393.press("123456#")
    assert heard.startswith("Your medical insurance personal account balance is")
    assert caller12393.press("9").startswith(MENU.text("transfer", "en-US"))
    assert caller12393.end_state == EndState.ENQUEUE  # no IVR_AGENT_NUMBER: the queue


def test_zero_is_not_the_agent_on_12393(caller12393: Caller) -> None:
    """12393 puts its agent on 9; 0 is just an invalid key there."""
    caller12393.dial()
    assert caller12393.press("0").startswith(MENU.text("invalid_key"))
