"""Bounded requests: rate limits per caller number and per address, shared through Redis
when configured, and the per-caller-number throttle of wrong PINs."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from flask import Flask
from sqlalchemy import select, update

from ivr import create_app
from ivr.core.events import CheckPin
from ivr.errors import ConfigError
from ivr.sim.twiml_check import TwimlChecker
from ivr.web.ratelimit import parse_limit
from ivr.web.steps import PinCheck
from store.demo import LI_XIUYING, WANG_JIANGUO
from store.import_apply import import_data
from store.models import Call, CallerGuard, Person
from store.records import PinOutcome
from tests.conftest import signed_post
from tests.twiml_helpers import parse_twiml
from tests.web.test_call_flow import GOODBYE, MEDICAL_MENU, MENU, WANG_KEYED, WANG_PIN, verify

REDIS_URL = os.environ.get("IVR_TEST_REDIS_URL", "")
BUSY = MENU.text("busy")
THROTTLED = MENU.text("pin_throttled")


def post_keys(app: Flask, call_sid: str, caller: str = "+8613800138000"):
    """A signed webhook POST to /voice from `caller`."""
    return signed_post(app, "http://localhost/voice", {"CallSid": call_sid, "From": caller})


def said(reply, checker: TwimlChecker) -> str:
    """All <Say> text of a TwiML reply, validated against Twilio's checker."""
    return "".join(parse_twiml(reply.data, checker).says)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("60/minute", (60, 60)), ("50 per second", (50, 1)), ("2/hour", (2, 3600)),
     ("off", None), ("", None), ("0", None)],
)  # fmt: skip
def test_limits_parse(value: str, expected: tuple[int, int] | None) -> None:
    limit = parse_limit("X", value)
    assert (limit and (limit.amount, limit.get_expiry())) == expected


@pytest.mark.parametrize("value", ["lots", "60/fortnight", "-1/minute"])
def test_a_bad_limit_names_the_setting(make_app: Callable[..., Flask], value: str) -> None:
    with pytest.raises(ConfigError, match="IVR_RATE_LIMIT_CALLER.*60/minute"):
        make_app(IVR_RATE_LIMIT_CALLER=value)


def test_a_caller_over_the_limit_hears_the_busy_message(
    make_app: Callable[..., Flask], twiml_checker: TwimlChecker
) -> None:
    app = make_app(IVR_RATE_LIMIT_CALLER="3/minute", IVR_RATE_LIMIT_ADDRESS="off")
    for _ in range(3):
        assert said(post_keys(app, "CA" + secrets.token_hex(8)), twiml_checker) != BUSY
    reply = post_keys(app, "CA" + secrets.token_hex(8))
    assert reply.status_code == 200 and said(reply, twiml_checker) == BUSY
    assert parse_twiml(reply.data, twiml_checker).verbs[-1] == "Hangup"
    # Another number is not held back by this one.
    other = post_keys(app, "CA" + secrets.token_hex(8), caller="+8613900000000")
    assert said(other, twiml_checker) != BUSY


def test_a_flood_without_a_valid_signature_gets_429(
    make_app: Callable[..., Flask], twiml_checker: TwimlChecker
) -> None:
    app = make_app(IVR_RATE_LIMIT_ADDRESS="2/minute")
    client = app.test_client()
    form = {"CallSid": "CAjunk", "From": "+100"}
    codes = [client.post("/voice", data=form).status_code for _ in range(4)]
    assert codes == [403, 403, 429, 429]
    assert client.post("/voice", data=form).headers["Retry-After"] == "60"
    # A genuine Twilio request from the same address hears a spoken busy message instead.
    reply = post_keys(app, "CA" + secrets.token_hex(8))
    assert reply.status_code == 200 and said(reply, twiml_checker) == BUSY


def test_the_address_limit_counts_the_forwarded_client_behind_a_proxy(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(IVR_RATE_LIMIT_ADDRESS="1/minute", IVR_PROXY_HOPS="1",
                   IVR_AUTH_TOKEN="")  # fmt: skip
    client = app.test_client()

    def from_client(address: str) -> int:
        """POST junk as if the proxy forwarded it for `address`."""
        headers = {"X-Forwarded-For": address}
        return client.post("/voice", data={"CallSid": "x!"}, headers=headers).status_code

    assert [from_client("198.51.100.1"), from_client("198.51.100.1")] == [400, 429]
    assert from_client("198.51.100.2") == 400  # a different client behind the same proxy


def test_rate_limits_off_let_everything_through(make_app: Callable[..., Flask]) -> None:
    app = make_app(IVR_RATE_LIMIT_CALLER="off", IVR_RATE_LIMIT_ADDRESS="off")
    assert app.extensions["ivr"].rate_limits is None
    assert all(post_keys(app, f"CA{n:04d}").status_code == 200 for n in range(70))


def test_an_unreachable_limit_store_lets_callers_through(
    make_app: Callable[..., Flask], twiml_checker: TwimlChecker
) -> None:
    """The limits protect the hotline; a Redis outage must not take the hotline down."""
    app = make_app(IVR_RATE_LIMIT_CALLER="1/minute", IVR_RATE_LIMIT_STORAGE="redis://127.0.0.1:9")
    replies = [post_keys(app, "CA" + secrets.token_hex(8)) for _ in range(3)]
    assert all(r.status_code == 200 and said(r, twiml_checker) != BUSY for r in replies)


# Like the PostgreSQL variants: it runs when Redis is configured (.ci/run sets it when
# Redis answers on 127.0.0.1:6379).
@pytest.mark.redis
def test_workers_share_their_counts_through_redis(
    make_app: Callable[..., Flask], twiml_checker: TwimlChecker
) -> None:
    """Two apps stand for two workers: a caller's count is the sum of both."""
    prefix = secrets.token_hex(4)  # a fresh number: Redis outlives the test
    settings = {"IVR_RATE_LIMIT_CALLER": "4/minute", "IVR_RATE_LIMIT_STORAGE": REDIS_URL}
    workers = [make_app(**settings), make_app(**settings)]
    number = f"+86{int(prefix, 16):011d}"[:14]
    replies = [post_keys(workers[n % 2], "CA" + secrets.token_hex(8), caller=number)
               for n in range(5)]  # fmt: skip
    assert [said(r, twiml_checker) == BUSY for r in replies] == [False] * 4 + [True]


# ------------------------------------------------------ per-caller-number PIN throttling


def wrong_pins(app: Flask, make_caller, number: str, *, caller: str) -> str:
    """A call from `caller` that keys a wrong PIN for `number`; what it heard after the PIN."""
    call = make_caller(app, from_=caller)
    return verify(call, entry=number, pin="000000")


@pytest.fixture
def throttled_app(make_app: Callable[..., Flask], demo_prepared) -> Flask:
    """The demo hotline with at most 2 wrong PINs per caller number per hour."""
    app = make_app(IVR_CALLER_PIN_LIMIT="2/hour")
    with app.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    return app


def test_one_number_cannot_lock_someone_out(throttled_app: Flask, make_caller) -> None:
    app, attacker = throttled_app, "+8613711112222"
    for _ in range(2):
        assert "还有" in wrong_pins(app, make_caller, WANG_KEYED, caller=attacker)
    third = wrong_pins(app, make_caller, WANG_KEYED, caller=attacker)
    assert THROTTLED in third and GOODBYE in third
    with app.extensions["ivr"].sessions() as session:
        person = session.scalars(select(Person).where(Person.id_number == WANG_JIANGUO)).one()
        assert (person.failed_pins, person.locked) == (2, False)
    # The owner, calling from their own phone, still gets in.
    assert MEDICAL_MENU in verify(make_caller(app, from_="+8613800138000"))


def test_the_throttle_spans_every_id_and_ends_with_the_window(
    throttled_app: Flask, make_caller, clock
) -> None:
    app, caller = throttled_app, "+8613711113333"
    wrong_pins(app, make_caller, WANG_KEYED, caller=caller)
    wrong_pins(app, make_caller, LI_XIUYING, caller=caller)
    blocked = make_caller(app, from_=caller)
    assert THROTTLED in verify(blocked, pin=WANG_PIN)
    clock.set("2026-11-25T11:00:01")  # an hour on: a new window
    assert MEDICAL_MENU in verify(make_caller(app, from_=caller), pin=WANG_PIN)
    with app.extensions["ivr"].sessions() as session:
        guards = session.scalars(select(CallerGuard)).all()
    assert len(guards) == 1 and guards[0].failed_pins == 2  # the right PIN did not count
    assert caller not in guards[0].key  # an HMAC, never the number


def test_callers_who_withhold_their_number_share_one_count(throttled_app: Flask,
                                                           make_caller) -> None:  # fmt: skip
    for _ in range(2):
        wrong_pins(throttled_app, make_caller, WANG_KEYED, caller="")
    third = wrong_pins(throttled_app, make_caller, LI_XIUYING, caller="")
    assert THROTTLED in third


def test_the_throttle_is_off_by_default(app: Flask, make_caller) -> None:
    for _ in range(3):
        wrong_pins(app, make_caller, WANG_KEYED, caller="+8613711114444")
    with app.extensions["ivr"].sessions() as session:
        assert session.scalars(select(CallerGuard)).all() == []
        person = session.scalars(select(Person).where(Person.id_number == WANG_JIANGUO)).one()
        assert person.locked


def test_a_deployment_is_rate_limited_by_default() -> None:
    """The defaults guard a hotline that sets nothing (the tests switch them off)."""
    app = create_app({"IVR_DATABASE_URL": "sqlite://", "IVR_SPEECH": "say"})
    limits = app.extensions["ivr"].rate_limits
    assert limits is not None
    assert (limits.caller.amount, limits.caller.get_expiry()) == (300, 60)
    assert (limits.address.amount, limits.address.get_expiry()) == (200, 1)
    app.extensions["ivr"].engine.dispose()


def test_status_callbacks_are_never_refused(make_app: Callable[..., Flask]) -> None:
    """They end calls and their private audio URLs, so a busy caller number must not block
    them."""
    app = make_app(IVR_RATE_LIMIT_CALLER="1/minute")
    form = {"CallSid": "CAstatus0001", "From": "+8613800138000"}
    signed_post(app, "http://localhost/voice", form)
    for _ in range(3):
        status = {**form, "CallStatus": "completed"}
        assert signed_post(app, "http://localhost/voice/status", status).status_code == 204
    with app.extensions["ivr"].sessions() as session:
        assert session.get(Call, "CAstatus0001").ended


def test_unsigned_junk_never_counts_against_a_callers_number(
    make_app: Callable[..., Flask], twiml_checker: TwimlChecker
) -> None:
    """Else anyone could post junk "From" a victim's number and get their calls refused."""
    app = make_app(IVR_RATE_LIMIT_CALLER="2/minute")
    victim = {"CallSid": "CAjunk0001", "From": "+8613800138000"}
    assert all(app.test_client().post("/voice", data=victim).status_code == 403 for _ in range(5))
    assert said(post_keys(app, "CA" + secrets.token_hex(8)), twiml_checker) != BUSY


def test_racing_wrong_pins_from_one_number_cannot_pass_the_throttle(
    throttled_app: Flask,
) -> None:
    """20 wrong PINs at once from one number for one person: 2 count, 18 are refused."""
    line = throttled_app.extensions["ivr"]
    with line.sessions() as session:
        victim = session.scalar(select(Person.id).where(Person.id_number == WANG_JIANGUO))
    start = Barrier(20)

    def attempt(_: int) -> PinOutcome:
        """One request's PIN check, in its own transaction, as a worker makes it."""
        with line.sessions() as session:
            pins = PinCheck(None, "+8613711115555", (2, 3600), 1_800_000_000, line.pins)
            start.wait()
            outcome = pins.check(session, CheckPin(victim, None, "000000"))
            session.commit()
            return outcome

    with ThreadPoolExecutor(20) as pool:
        outcomes = sorted(pool.map(attempt, range(20)))
    assert outcomes == sorted([PinOutcome.WRONG] * 2 + [PinOutcome.THROTTLED] * 18)
    with line.sessions() as session:
        person = session.get(Person, victim)
        assert (person.failed_pins, person.locked) == (2, False)


def test_the_owners_right_pin_on_a_locked_account_does_not_count(
    throttled_app: Flask, make_caller
) -> None:
    with throttled_app.extensions["ivr"].sessions() as session:
        session.execute(update(Person).where(Person.id_number == WANG_JIANGUO).values(locked=True))
        session.commit()
    for _ in range(3):  # the owner tries again and again with the right PIN
        verify(make_caller(throttled_app, from_="+8613800138000"))
    with throttled_app.extensions["ivr"].sessions() as session:
        assert session.scalars(select(CallerGuard)).one().failed_pins == 0
