"""The English line: 9 at the main menu switches the rest of the call to English."""

from __future__ import annotations

import pytest

from ivr.sim.caller import Caller, EndState
from store.demo import LI_XIUYING, WANG_JIANGUO
from store.models import Call
from tests.twiml_helpers import parse_twiml

WANG_KEYED = WANG_JIANGUO[:-1] + "*"
ENGLISH_BALANCE = "one thousand two hundred and thirty-four yuan and fifty-six fen"


def to_english(caller: Caller) -> str:
    """Dial and press 9; return what was heard after it."""
    caller.dial()
    return caller.press("9")


def english_verify(caller: Caller, id_number: str = WANG_KEYED, pin: str = "135790") -> str:
    """Switch to English, choose medical services and verify."""
    to_english(caller)
    assert "eighteen-digit ID number" in caller.press("2")
    assert "six-digit query password" in caller.press(id_number + "#")
    return caller.press(pin + "#")


def test_the_chinese_welcome_offers_english_in_an_english_voice(caller: Caller) -> None:
    heard = caller.dial()
    assert heard.startswith("欢迎致电") and heard.endswith("For English service, press nine.")
    offer = parse_twiml(caller.last_twiml, caller.checker).root.findall("Gather/Say")[-1]
    assert offer.text == "For English service, press nine."
    assert offer.get("language") == "en-US" and offer.get("voice") == "Polly.Joanna"


def test_nine_switches_to_english_and_the_menu_follows(caller: Caller) -> None:
    heard = to_english(caller)
    assert heard.startswith("You have chosen English service.")
    assert "For medical insurance services, press two." in heard
    says = parse_twiml(caller.last_twiml, caller.checker).root.findall(".//Say")
    english = [say for say in says if say.get("language") == "en-US"]
    assert len(english) == len(says) - 1  # all but the offer to go back to Mandarin
    assert says[-1].text == "普通话服务请按九。" and says[-1].get("language") == "cmn-CN"


def test_english_path_from_welcome_to_the_balance(caller: Caller) -> None:
    heard = english_verify(caller)
    assert "For your personal account balance, press one." in heard
    heard = caller.press("1")
    assert f"Your medical insurance personal account balance is {ENGLISH_BALANCE}" in heard
    assert "as of" in heard and "元" not in heard


def test_english_family_read_back(caller: Caller) -> None:
    english_verify(caller, LI_XIUYING, "246810")
    heard = caller.press("2")
    assert "As a payer in family mutual aid" in heard
    assert "As a beneficiary" in heard and "paid by you in cash" in heard
    assert "某" not in heard  # masked names are read in pinyin, not with 某


def test_nine_again_returns_to_mandarin(caller: Caller) -> None:
    to_english(caller)
    heard = caller.press("9")
    # Back in Mandarin, the caller is told again, in Mandarin, that the menu hears speech.
    assert heard.startswith("您已选择普通话服务。您可以直接说出要办理的业务")
    assert "社会保险查询请按一" in heard


def test_english_errors_and_goodbye(caller: Caller) -> None:
    to_english(caller)
    assert caller.press("7").startswith("Sorry, that key is not valid.")
    caller.silence()
    caller.silence()
    assert caller.silence().endswith("Thank you for calling. Goodbye.")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-25T20:00", "eight thirty in the morning to eleven thirty in the morning"),
        ("2026-11-28T10:00", "one o'clock in the afternoon to five o'clock in the afternoon"),
    ],
)
def test_english_agent_hours_outside_them(caller: Caller, clock, when: str, expected: str) -> None:
    clock.set(when)
    to_english(caller)
    heard = caller.press("0")
    assert "Agents are not on duty at this time." in heard and expected in heard


def test_the_language_is_part_of_the_stored_call_state(app, caller: Caller) -> None:
    to_english(caller)
    with app.extensions["ivr"].sessions() as session:
        assert session.get(Call, caller.call_sid).lang == "en-US"


def test_english_in_play_mode_is_played_too(play_app, make_caller) -> None:
    caller = make_caller(play_app)
    english_verify(caller)
    heard = caller.press("1")
    assert ENGLISH_BALANCE in heard
    assert "<Say" not in caller.last_twiml and caller.played


@pytest.mark.parametrize(
    ("english", "apology"),
    [(False, "抱歉，系统出现故障，请稍后再拨。"), (True, "Sorry, the system has a fault.")],
)
def test_an_unexpected_error_is_apologised_for_in_the_callers_language(
    caller: Caller, monkeypatch, english: bool, apology: str
) -> None:
    caller.dial()
    if english:
        caller.press("9")

    def broken(*_args: object, **_kwargs: object) -> None:
        """A bug in the step."""
        raise RuntimeError("boom")

    monkeypatch.setattr("ivr.web.answer.drive", broken)
    heard = caller.press("1")
    assert heard.startswith(apology)
    assert caller.end_state == EndState.HANGUP
