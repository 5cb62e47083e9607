"""Scale over real gunicorn processes: racing wrong PINs over HTTP, and 200 simultaneous
callers who each hear their own balance. Each test runs on every backend.

The servers play the fake-rendered prompt audio (with the read-backs' text header), as in
test_workers.py, and keep the deployment's default rate limits.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial
from threading import Barrier

import pytest
from flask import Flask
from sqlalchemy import func, select
from stdnum.cn import ric
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.core.reading_zh import read_count, read_money
from ivr.sim.caller import Caller, TurnKind
from ivr.sim.twiml_check import TwimlChecker
from store.demo import WANG_JIANGUO
from store.id_numbers import validate_id_number
from store.models import Call, CallEvent, Person
from store.pins import PinKeyring
from tests.servers import PIN_KEY, Server
from tests.web.test_call_flow import set_person
from tests.worker_helpers import (
    MENU,
    SIGNAL_WAIT_S,
    WANG_KEYED,
    WANG_PIN,
    WRONG_PIN,
    expect,
    new_caller,
)

pytestmark = pytest.mark.slow  # real gunicorn servers under load

CROWD_TIMEOUT_S = 180.0  # on SQLite the crowd's ~200 PIN checks (~0.14 s each) queue up
RACERS = 20
CROWD = 200
CROWD_PIN = "246802"


# --------------------------------------------------------------------------- helpers


def attempt(action: Callable[[], object]) -> object:
    """Run an action in a pool thread; an exception is returned, so every thread finishes."""
    try:
        return action()
    except Exception as exc:  # reported with the others by the test
        return exc


def stored_person(app: Flask, id_number: str) -> tuple[int, bool]:
    """(failed_pins, locked) of a person as stored now."""
    with app.extensions["ivr"].sessions() as session:
        person = session.scalars(select(Person).where(Person.id_number == id_number)).one()
        return person.failed_pins, person.locked


# --------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Member:
    """One caller of the crowd: a person on file with a balance of their own."""

    id_number: str
    balance_fen: int
    from_: str

    @property
    def words(self) -> str:
        """The balance as the hotline reads it."""
        return read_money(self.balance_fen)


def crowd_member(index: int) -> Member:
    """Member `index`: an ID of Urumqi, born 1980-01-01, and a balance of its own."""
    body = f"65010219800101{index + 1:03d}"
    check = ric.calc_check_digit(body + "0")  # it skips the last character, the check's place
    # Four-digit yuan (1000 to 8363), so no one's balance in words is a part of another's.
    yuan, jiao, fen = 1000 + 37 * index, 1 + index % 9, 1 + (index * 4) % 9
    return Member(body + check, yuan * 100 + jiao * 10 + fen, f"+86139{index:08d}")


@pytest.fixture
def crowd(make_app: Callable[..., Flask]) -> list[Member]:
    """CROWD persons inserted directly, sharing one PIN hash (hashing 200 times is slow)."""
    members = [crowd_member(index) for index in range(CROWD)]
    # The hotline's own check (stdnum's is_valid knows the region codes of one era only).
    assert all(validate_id_number(m.id_number, date.today()) for m in members)
    assert len({m.id_number for m in members}) == len({m.words for m in members}) == CROWD
    pin_hash = PinKeyring((bytes.fromhex(PIN_KEY),)).hash(CROWD_PIN)
    app = make_app()
    with app.extensions["ivr"].sessions() as session:
        session.add_all(
            Person(
                id_number=m.id_number,
                card_number=f"{650200000 + index}",
                name="张三",
                pin_hash=pin_hash,
                insured_region="650102",
                scheme="employee",
                insured_status="active",
                balance_fen=m.balance_fen,
                balance_as_of=date(2026, 11, 1),
            )
            for index, m in enumerate(members)
        )
        session.commit()
    return members


# --------------------------------------------------------------------------- racing PINs


def at_pin_prompt(base: str, checker: TwimlChecker, index: int) -> Caller:
    """A call of its own, from a number of its own, waiting at 王建国's PIN prompt."""
    caller = new_caller(base, checker, from_=f"+86138{index:08d}")
    caller.dial()
    caller.press("2")
    expect("ask_pin", caller.press(WANG_KEYED + "#"))
    return caller


def answer_kind(heard: str) -> str:
    """The PIN outcome an answer announces: wrong, just_locked or locked."""
    if MENU.text("locked_now") in heard:
        return "just_locked"
    if MENU.text("locked") in heard:  # a part of locked_now, so tested second
        return "locked"
    # Each call has made one attempt, so a wrong PIN leaves it two more.
    return "wrong" if MENU.text("auth_failed", remaining=read_count(2)) in heard else heard


def logged_pin_outcomes(app: Flask, call_sids: list[str]) -> Counter[str]:
    """The `auth …` outcomes the call_events of these calls record."""
    query = select(CallEvent.outcome).where(CallEvent.call_sid.in_(call_sids))
    with app.extensions["ivr"].sessions() as session:
        outcomes = session.scalars(query).all()
    return Counter(found for text in outcomes for found in re.findall(r"\bauth (\w+)", text))


def test_racing_wrong_pins_over_http_all_count_and_lock_once(
    app: Flask, serve_env: Callable[..., dict], launch: Callable[..., list[Server]],
    twiml_checker: TwimlChecker,
) -> None:  # fmt: skip
    """Wrong PINs racing over HTTP for one person all count, and exactly one locks him."""
    # RACERS calls wait at 王建国's PIN prompt, then post a wrong PIN at once to 4 workers.
    # The deployment's default rate limits: each caller has a number of its own, and
    # 127.0.0.1 stands in for the few addresses Twilio sends every call from.
    (server,) = launch(serve_env(), workers=4)
    # Numbers of their own: the race is about the person's lock, not a per-number limit.
    callers = [at_pin_prompt(server.base, twiml_checker, index) for index in range(RACERS)]
    marks = [len(caller.transcript) for caller in callers]
    start = Barrier(RACERS)

    def race(caller: Caller) -> str:
        """Wait for every racer, then post the wrong PIN."""
        start.wait(timeout=SIGNAL_WAIT_S)
        return caller.press(WRONG_PIN + "#")

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(lambda caller: attempt(partial(race, caller)), callers))
    failures = [answer for answer in answers if isinstance(answer, Exception)]
    assert not failures, f"{len(failures)} failed: {failures[:3]}\n{server.log()}"
    statuses = [turn.status for caller, mark in zip(callers, marks, strict=True)
                for turn in caller.transcript[mark:] if turn.kind is TurnKind.REQUEST]  # fmt: skip
    assert statuses and set(statuses) == {200}, Counter(statuses)
    expected = Counter(wrong=2, just_locked=1, locked=RACERS - 3)
    assert Counter(map(answer_kind, answers)) == expected
    assert logged_pin_outcomes(app, [caller.call_sid for caller in callers]) == expected
    assert stored_person(app, WANG_JIANGUO) == (RACERS, True)


# --------------------------------------------------------------------------- a crowd


def crowd_call(base: str, checker: TwimlChecker, member: Member) -> str:
    """One member's whole call to the balance, hung up after it; return the balance step."""
    caller = new_caller(base, checker, CROWD_TIMEOUT_S, member.from_)
    caller.dial()
    caller.press("2")
    expect("ask_pin", caller.press(member.id_number.replace("X", "*") + "#"))
    expect("medical_menu", caller.press(CROWD_PIN + "#"))
    heard = caller.press("1")
    caller.hangup()
    return heard


def test_a_crowd_of_simultaneous_callers_each_hears_their_own_balance(
    crowd: list[Member], make_app: Callable[..., Flask], serve_env: Callable[..., dict],
    launch: Callable[..., list[Server]], twiml_checker: TwimlChecker,
) -> None:  # fmt: skip
    """CROWD simultaneous callers, each a different person, each hear their own balance."""
    # One 4-worker server; no one may hear another's balance, and every call must end.
    # The deployment's default rate limits: each caller has a number of its own, and
    # 127.0.0.1 stands in for the few addresses Twilio sends every call from.
    (server,) = launch(serve_env(), workers=4)
    call = partial(crowd_call, server.base, twiml_checker)
    with ThreadPoolExecutor(CROWD) as pool:
        heard = list(pool.map(lambda member: attempt(partial(call, member)), crowd))
    failures = [(m.id_number[-4:], repr(h)[:200]) for m, h in zip(crowd, heard, strict=True)
                if isinstance(h, Exception)]  # fmt: skip
    assert not failures, f"{len(failures)} of {CROWD} calls failed, e.g. {failures[:3]}\n" + (
        "\n".join(server.warnings()[-10:])
    )
    everyone = {member.words for member in crowd}
    wrong = [(m.words, h) for m, h in zip(crowd, heard, strict=True)
             if m.words not in h or any(w in h for w in everyone - {m.words})]  # fmt: skip
    assert not wrong, f"{len(wrong)} callers heard another balance, e.g. {wrong[:3]}"
    with make_app().extensions["ivr"].sessions() as session:
        ended = session.scalar(select(func.count()).where(Call.ended.is_(True)))
    assert ended == CROWD


def test_a_pin_check_does_not_hold_up_other_callers_in_its_worker(
    app: Flask, serve_env: Callable[..., dict], launch: Callable[..., list[Server]],
    twiml_checker: TwimlChecker,
) -> None:  # fmt: skip
    """With one worker, a new caller hears the welcome while three PIN checks still hash.

    Wang's hash is one from before keyed hashing (werkzeug's scrypt, slow on purpose): its
    check lets go of the GIL, and gunicorn's gthread workers serve other requests meanwhile.
    Under the old `sync` workers the welcome waited for all three hashes.
    """
    stored = generate_password_hash(WANG_PIN, "scrypt")
    set_person(app, WANG_JIANGUO, pin_hash=stored)
    (server,) = launch(serve_env(), workers=1)
    verifying = [new_caller(server.base, twiml_checker) for _ in range(3)]
    for caller in verifying:
        expect("welcome", caller.dial())
        expect("ask_id", caller.press("2"))
        expect("ask_pin", caller.press(WANG_KEYED + "#"))
    finished: dict[str, float] = {}

    def key_pin(n: int) -> None:
        """Key the PIN and note when the answer came."""
        expect("medical_menu", verifying[n].press(WANG_PIN + "#"))
        finished[f"pin{n}"] = time.monotonic()

    # The three PINs must reach the worker first, and still be hashing when the welcome
    # is asked for: a third of one check's time on this machine, whatever its speed.
    started = time.monotonic()
    check_password_hash(stored, WANG_PIN)
    head_start = (time.monotonic() - started) / 3
    with ThreadPoolExecutor(3) as pool:
        pins = [pool.submit(key_pin, n) for n in range(3)]
        time.sleep(head_start)
        expect("welcome", new_caller(server.base, twiml_checker).dial())
        finished["welcome"] = time.monotonic()
        for pin in pins:
            pin.result()
    assert min(finished, key=finished.__getitem__) == "welcome", (finished, server.log())
