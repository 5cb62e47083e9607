"""`unlock NUMBER`: an ID or a card number, on file or not, locked or not, or malformed.

Run on every backend (the `app` fixture): the lock is a person's row, or an HMAC-keyed probe
guard for a number not on file. Output masks every number to its last 4 characters.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select, update

from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.sim.caller import Caller
from store.demo import WANG_JIANGUO, ZHANG_WEI
from store.models import HotlineSecret, Person, ProbeGuard

MENU = load_menu(SETTINGS["IVR_MENU"][0])
WANG_CARD = "650100017"
WANG_KEYED = WANG_JIANGUO[:-1] + "*"
WANG_PIN = "135790"
WANG_MASKED = "**************109X"
BALANCE_WORDS = "一千二百三十四元五角六分"
UNKNOWN_ID = "110101199003074477"  # valid check digit, not in the demo data
UNKNOWN_CARD = "650100999"
LOCKED = "已锁定"
AUTH_FAILED = MENU.text("auth_failed", remaining="两")  # a wrong PIN, two tries left


def unlock(app: Flask, number: str) -> Result:
    """Invoke `unlock NUMBER` through Flask's CLI runner."""
    return app.test_cli_runner().invoke(args=["unlock", number])


def identify(caller: Caller, entry: str, pin: str) -> str:
    """Dial, pick 医疗保险服务, key `entry` and `pin`; what was heard after the PIN."""
    caller.dial()
    caller.press("2")
    caller.press(entry + "#")
    return caller.press(pin + "#")


def lock_out(make_caller: Callable[..., Caller], entry: str) -> None:
    """Three wrong PINs for `entry` in one call: the call ends, the number locked."""
    caller = make_caller()
    identify(caller, entry, "000000")
    for _ in range(2):
        caller.press(entry + "#")
        caller.press("000000#")
    assert caller.ended and LOCKED in caller.heard_text(), caller.heard_text()


def person_lock(app: Flask, id_number: str) -> tuple[bool, int]:
    """The person's (locked, failed_pins) as stored."""
    with app.extensions["ivr"].sessions() as session:
        person = session.scalars(select(Person).where(Person.id_number == id_number)).one()
        return person.locked, person.failed_pins


def count(app: Flask, model: type) -> int:
    """How many rows a table has."""
    with app.extensions["ivr"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def succeeded(result: Result) -> str:
    """The output of a run that exited 0, on one line, checked for whole numbers."""
    assert result.exit_code == 0, (result.output, result.exception)
    for number in (WANG_JIANGUO, WANG_JIANGUO[:-1], UNKNOWN_ID, WANG_CARD, UNKNOWN_CARD):
        assert number not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


@pytest.mark.parametrize("typed", [WANG_JIANGUO, WANG_KEYED, WANG_JIANGUO.lower()])
def test_a_locked_id_is_unlocked(app: Flask, make_caller: Callable[..., Caller],
                                 typed: str) -> None:  # fmt: skip
    lock_out(make_caller, WANG_KEYED)
    assert person_lock(app, WANG_JIANGUO) == (True, 3)
    assert LOCKED in identify(make_caller(), WANG_KEYED, WANG_PIN)  # even the right PIN
    said = succeeded(unlock(app, typed))
    assert said == (f"Unlocked ID {WANG_MASKED}: cleared the lock-out and 3 wrong PINs."
                    " Self-service PIN entry works again.")  # fmt: skip
    assert person_lock(app, WANG_JIANGUO) == (False, 0)
    assert MENU.text("medical_menu") in identify(make_caller(), WANG_KEYED, WANG_PIN)


def test_a_locked_card_number_is_unlocked(app: Flask, make_caller: Callable[..., Caller]) -> None:
    """A card shares its person's lock: locked by card, unlocked by card, and the ID works."""
    lock_out(make_caller, WANG_CARD)
    assert person_lock(app, WANG_JIANGUO) == (True, 3)
    said = succeeded(unlock(app, WANG_CARD))
    assert said == (f"Unlocked card *****0017 of ID {WANG_MASKED}: cleared the lock-out and"
                    " 3 wrong PINs. Self-service PIN entry works again.")  # fmt: skip
    assert person_lock(app, WANG_JIANGUO) == (False, 0)
    caller = make_caller()
    assert MENU.text("medical_menu") in identify(caller, WANG_CARD, WANG_PIN)
    assert BALANCE_WORDS in caller.press("1")


@pytest.mark.parametrize(("number", "name"), [(UNKNOWN_ID, "ID **************4477"),
                                              (UNKNOWN_CARD, "card *****0999")])  # fmt: skip
def test_a_locked_number_not_on_file_has_its_guard_cleared(
    app: Flask, make_caller: Callable[..., Caller], number: str, name: str
) -> None:
    """Its lock is a probe guard keyed by an HMAC of the number: that row goes."""
    lock_out(make_caller, number)
    with app.extensions["ivr"].sessions() as session:
        guards = session.execute(select(ProbeGuard.locked, ProbeGuard.failed_pins)).all()
    assert [tuple(guard) for guard in guards] == [(True, 3)]
    said = succeeded(unlock(app, number))
    assert said == f"Cleared the guard of {name}, not on file: the lock-out and 3 wrong PINs."
    assert count(app, ProbeGuard) == 0
    assert identify(make_caller(), number, "000000").startswith(AUTH_FAILED)  # counted afresh


def test_a_few_wrong_pins_are_cleared_too(app: Flask) -> None:
    with app.extensions["ivr"].sessions() as session:
        session.execute(update(Person).where(Person.id_number == ZHANG_WEI).values(failed_pins=1))
        session.commit()
    said = succeeded(unlock(app, ZHANG_WEI))
    assert said.endswith("**************2013: cleared 1 wrong PIN. Self-service PIN entry works"
                         " again.")  # fmt: skip
    assert person_lock(app, ZHANG_WEI) == (False, 0)


@pytest.mark.parametrize(("number", "said"), [
    (WANG_JIANGUO, f"ID {WANG_MASKED} is not locked"),
    (WANG_CARD, f"card *****0017 of ID {WANG_MASKED} is not locked"),
    (UNKNOWN_ID, "ID **************4477 is not on file"),
    (UNKNOWN_CARD, "card *****0999 is not on file"),
])  # fmt: skip
def test_nothing_to_clear_is_said_and_is_no_failure(app: Flask, number: str, said: str) -> None:
    secrets = count(app, HotlineSecret)
    assert succeeded(unlock(app, number)) == (f"Nothing to clear: {said} and has no wrong PINs"
                                              " counted.")  # fmt: skip
    assert count(app, HotlineSecret) == secrets  # no HMAC key made just to look
    assert count(app, ProbeGuard) == 0


@pytest.mark.parametrize(("typed", "problem"), [
    ("65010219680312109Y", "expected an 18-character ID number (X may be typed as *) or a"
                           " 9-digit card number"),
    ("650102196803121090", "check digit does not match (expected X)"),
    ("65010219680312*09X", "* (or X) is only allowed as the 18th character"),
    ("650102680312109", "15-digit first-generation ID numbers are no longer valid"),
    ("12345", "expected an 18-character ID or a 9-digit card number, got 5 characters"),
    ("6501000171", "got 10 characters"),
    ("65010001７", "expected an 18-character ID number"),  # a full-width digit
    ("abc", "expected an 18-character ID number"),
    ("", "expected an 18-character ID number"),
])  # fmt: skip
def test_a_malformed_number_is_a_one_line_usage_error(app: Flask, typed: str,
                                                      problem: str) -> None:  # fmt: skip
    """Exit 2 with a reason, no traceback, the number never echoed; nothing changes."""
    result = unlock(app, typed)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert "NUMBER" in errors[0] and problem in errors[0], errors[0]
    if len(typed) >= 9:
        assert typed not in result.output
    assert count(app, ProbeGuard) == 0
