"""The PIN lock-out under concurrent attempts: every wrong PIN counted, the lock never lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from threading import Barrier

import pytest
from sqlalchemy import select, update

from store import lockout
from store.demo import WANG_JIANGUO
from store.models import Person
from store.pins import PinKeyring
from store.records import PinOutcome

RIGHT, WRONG = "135790", "000000"


def person_id(app) -> int:
    """王建国's row id."""
    with app.extensions["ivr"].sessions() as session:
        return session.scalar(select(Person.id).where(Person.id_number == WANG_JIANGUO))


def keys(app) -> PinKeyring:
    """The app's PIN keyring."""
    return app.extensions["ivr"].pins


def set_failures(app, failed: int) -> None:
    """Start from a given count of wrong PINs."""
    with app.extensions["ivr"].sessions() as session:
        session.execute(update(Person).values(failed_pins=failed, locked=False))
        session.commit()


def attempt_together(app, pins: list[str]) -> list[PinOutcome]:
    """Check the PINs at the same moment, each in its own session, as separate workers do."""
    pid, start = person_id(app), Barrier(len(pins))

    def attempt(pin: str) -> PinOutcome:
        with app.extensions["ivr"].sessions() as session:
            start.wait()
            outcome = lockout.check_pin(session, keys(app), pid, None, pin)
            session.commit()
            return outcome

    with ThreadPoolExecutor(len(pins)) as pool:
        return list(pool.map(attempt, pins))


def stored(app) -> tuple[int, bool]:
    """(failed_pins, locked) as stored now."""
    with app.extensions["ivr"].sessions() as session:
        row = session.scalars(select(Person).where(Person.id_number == WANG_JIANGUO)).one()
        return row.failed_pins, row.locked


@pytest.mark.parametrize("racers", [6, 20])
def test_racing_wrong_pins_all_count_and_lock_exactly_once(app, racers: int) -> None:
    outcomes = attempt_together(app, [WRONG] * racers)
    assert sorted(outcomes) == sorted(
        [PinOutcome.WRONG] * 2 + [PinOutcome.JUST_LOCKED] + [PinOutcome.LOCKED] * (racers - 3)
    )
    assert stored(app) == (racers, True)


@pytest.mark.parametrize("round_", range(3))
def test_a_right_and_a_wrong_pin_at_once_never_verify_a_locked_person(app, round_: int) -> None:
    set_failures(app, 2)
    outcomes = set(attempt_together(app, [RIGHT, WRONG]))
    # Either the right PIN came first (verified, then one new failure), or the wrong one
    # locked the person first and the right one was refused: never verified and locked.
    assert outcomes in (
        {PinOutcome.OK, PinOutcome.WRONG},
        {PinOutcome.JUST_LOCKED, PinOutcome.LOCKED},
    )
    assert stored(app) == ((1, False) if PinOutcome.OK in outcomes else (3, True))


# ------------------------------------------------- a PIN verdict reached ahead of the write


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the slow hash checks lockout makes (each one's PIN)."""
    checked: list[str] = []
    real = PinKeyring.verify

    def counting(self: PinKeyring, pin: str, pin_hash: str) -> bool:
        """The real check, counted."""
        checked.append(pin)
        return real(self, pin, pin_hash)

    monkeypatch.setattr(PinKeyring, "verify", counting)
    return checked


def verdict_for(app, pin: str, **changes: object) -> lockout.PinVerdict:
    """A verdict reached for 王建国 and `pin`, then altered as the test says."""
    with app.extensions["ivr"].sessions() as session:
        pid = person_id(app)
        found = lockout.verify(keys(app), pid, pin, lockout.stored_hash(session, pid))
    return replace(found, **changes)


@pytest.mark.parametrize("pin", [RIGHT, WRONG])
def test_a_matching_verdict_is_used_without_hashing_again(app, hash_checks, pin: str) -> None:
    verdict = verdict_for(app, pin)
    hash_checks.clear()
    with app.extensions["ivr"].sessions() as session:
        outcome = lockout.check_pin(session, keys(app), person_id(app), None, pin, verdict)
    assert outcome == (PinOutcome.OK if pin == RIGHT else PinOutcome.WRONG)
    assert hash_checks == []


@pytest.mark.parametrize(
    ("changes", "keyed", "expected"),
    [({"person_id": -1}, RIGHT, PinOutcome.OK), ({}, WRONG, PinOutcome.WRONG),
     ({"pin_hash": "scrypt:changed"}, WRONG, PinOutcome.WRONG)],
    ids=["another person", "another PIN", "a changed hash"],
)  # fmt: skip
def test_a_verdict_for_something_else_is_checked_again(
    app, hash_checks, changes: dict, keyed: str, expected: PinOutcome
) -> None:
    """A right-PIN verdict reached for another person, PIN or hash decides nothing: the
    PIN keyed is checked again, so a wrong one never gets in and a right one is not refused."""
    verdict = verdict_for(app, RIGHT, **changes)
    hash_checks.clear()
    with app.extensions["ivr"].sessions() as session:
        outcome = lockout.check_pin(session, keys(app), person_id(app), None, keyed, verdict)
    assert outcome == expected and hash_checks == [keyed]
