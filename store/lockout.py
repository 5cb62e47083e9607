"""Who is calling, and is the PIN right: PIN hashing, identification and the lock-out.

A number that is not on file must sound exactly like one with a wrong PIN, lock-out
included, so unknown numbers get wrong-PIN counters of their own (`ProbeGuard`), keyed
by an HMAC of the number rather than the number itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store import pins
from store.models import CallerGuard, HotlineSecret, Person, ProbeGuard
from store.records import PinOutcome

PIN_LOCK_AFTER = 3  # consecutive wrong PINs that lock self-service
PROBE_SECRET = "probe-hmac"


def _insert(db: Session | Connection, model: type, **values: Any) -> Any:
    """An INSERT with the ON CONFLICT clauses of the database (SQLite or PostgreSQL)."""
    bind = db if isinstance(db, Connection) else db.get_bind()
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(model).values(**values)


def insert_ignore(db: Session | Connection, model: type, **values: Any) -> bool:
    """INSERT a row unless its primary key exists (SQLite and PostgreSQL alike); True when
    this call put it in."""
    statement = _insert(db, model, **values).on_conflict_do_nothing()
    # An INSERT's rowcount is not kept by default; it tells who won a race for the row.
    return db.execute(statement.execution_options(preserve_rowcount=True)).rowcount == 1


def probe_key(session: Session, kind: str, number: str) -> str:
    """The HMAC that stands for a number in the probe guards."""
    query = select(HotlineSecret.value).where(HotlineSecret.name == PROBE_SECRET)
    secret = session.scalar(query)
    if secret is None:  # the first unknown number this database has seen
        insert_ignore(session, HotlineSecret, name=PROBE_SECRET, value=secrets.token_hex(32))
        secret = session.scalars(query).one()
    return _hmac(secret, kind, number)


def _hmac(secret: str, kind: str, number: str) -> str:
    """The HMAC of a kind of number ("id", "card", "caller") under the database's secret."""
    return hmac.new(secret.encode(), f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()


def identify(session: Session, kind: str, number: str) -> tuple[int | None, str | None]:
    """(person row id, None) for a number on file, else (None, its probe key)."""
    column = Person.id_number if kind == "id" else Person.card_number
    person_id = session.scalar(select(Person.id).where(column == number))
    if person_id is not None:
        return person_id, None
    return None, probe_key(session, kind, number)


@dataclass(frozen=True)
class PinVerdict:
    """A PIN checked ahead of the request's write transaction, against one stored hash.

    The check then holds no lock, even for a hash from before keyed hashing (werkzeug's
    scrypt, about 135 ms), which would otherwise hold up every SQLite writer.
    """

    person_id: int | None
    pin: str = field(repr=False)
    pin_hash: str | None = field(repr=False)  # what it was checked against; None: unknown
    ok: bool


def stored_hash(session: Session, person_id: int | None) -> str | None:
    """The person's PIN hash, or None for a number not on file."""
    if person_id is None:
        return None
    return session.scalar(select(Person.pin_hash).where(Person.id == person_id))


def verify(
    keys: pins.PinKeyring, person_id: int | None, pin: str, pin_hash: str | None
) -> PinVerdict:
    """Check `pin` against a stored hash; a number not on file costs the same and fails."""
    ok = keys.verify(pin, pin_hash) if pin_hash is not None else keys.dummy_check(pin)
    return PinVerdict(person_id, pin, pin_hash, ok)


def _pin_matches(
    keys: pins.PinKeyring, person: Person | None, pin: str, verdict: PinVerdict | None
) -> bool:
    """The verdict, when it was reached for this person, PIN and hash; else check now."""
    person_id, stored = (person.id, person.pin_hash) if person is not None else (None, None)
    if verdict is None or (verdict.person_id, verdict.pin, verdict.pin_hash) != (
        person_id,
        pin,
        stored,
    ):
        verdict = verify(keys, person_id, pin, stored)
    return verdict.ok


def check_pin(
    session: Session, keys: pins.PinKeyring, person_id: int | None, probe: str | None, pin: str,
    verdict: PinVerdict | None = None,
) -> PinOutcome:  # fmt: skip
    """Check a PIN; count a wrong one exactly, for persons and unknown numbers alike."""
    return attempt_pin(session, keys, person_id, probe, pin, verdict)[0]


def attempt_pin(
    session: Session, keys: pins.PinKeyring, person_id: int | None, probe: str | None, pin: str,
    verdict: PinVerdict | None = None,
) -> tuple[PinOutcome, bool]:  # fmt: skip
    """check_pin's outcome, and whether the PIN itself was right (locked or not)."""
    # No row lock around the hash check: each write below is one atomic conditional
    # UPDATE, so racing attempts still all count, and a right PIN never beats a lock.
    person = session.get(Person, person_id) if person_id is not None else None
    matches = _pin_matches(keys, person, pin, verdict)
    if person is None:
        if probe is None:
            return PinOutcome.WRONG, False
        insert_ignore(session, ProbeGuard, key=probe, failed_pins=0, locked=False)
        return _count_wrong(session, ProbeGuard, ProbeGuard.key == probe), False
    if matches:
        reset = session.execute(
            update(Person)
            .where(Person.id == person_id, Person.locked.is_(False))
            .values(failed_pins=0)
            .execution_options(synchronize_session=False)
        )
        if keys.needs_rehash(person.pin_hash):
            rehash(session, keys, person.id, pin, person.pin_hash)
        return (PinOutcome.OK if reset.rowcount else PinOutcome.LOCKED), True
    return _count_wrong(session, Person, Person.id == person_id), False


def rehash(session: Session, keys: pins.PinKeyring, person_id: int, pin: str, old: str) -> None:
    """Re-make a right PIN's hash under the current key (an old key's, or werkzeug's)."""
    # Only if the hash is still the one checked: an import may have set a new PIN meanwhile.
    session.execute(
        update(Person)
        .where(Person.id == person_id, Person.pin_hash == old)
        .values(pin_hash=keys.hash(pin))
        .execution_options(synchronize_session=False)
    )


def _count_wrong(session: Session, model: Any, where: ColumnElement[bool]) -> PinOutcome:
    """Add one wrong PIN in SQL, locked or not (an exact audit count); lock at the limit.

    Only the attempt whose count reaches the limit sees JUST_LOCKED, however many race.
    """
    failed = model.failed_pins + 1
    row = session.execute(
        update(model)
        .where(where)
        .values(failed_pins=failed, locked=or_(model.locked, failed >= PIN_LOCK_AFTER))
        .returning(model.failed_pins, model.locked)
        .execution_options(synchronize_session=False)
    ).one()
    if not row.locked:
        return PinOutcome.WRONG
    return PinOutcome.JUST_LOCKED if row.failed_pins == PIN_LOCK_AFTER else PinOutcome.LOCKED


def caller_throttled(session: Session, caller: str, limit: int, window: int, now: int) -> bool:
    """True when `caller` has keyed `limit` wrong PINs within the last `window` seconds.

    The number's row stays locked until the request ends, so that racing attempts from
    one number take turns: none of them can slip past the limit on a stale count.
    """
    key = probe_key(session, "caller", caller)
    insert_ignore(session, CallerGuard, key=key, window_start=now, failed_pins=0)
    guard = session.scalars(
        select(CallerGuard)
        .where(CallerGuard.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return guard.window_start > now - window and guard.failed_pins >= limit


def count_caller_failure(session: Session, caller: str, window: int, now: int) -> None:
    """Add a wrong PIN to the caller number's count, starting a new window when it is over."""
    stale = CallerGuard.window_start <= now - window
    key = probe_key(session, "caller", caller)
    insert = _insert(session, CallerGuard, key=key, window_start=now, failed_pins=1)
    # One statement, so that racing wrong PINs from one number all count.
    session.execute(insert.on_conflict_do_update(
        index_elements=[CallerGuard.key],
        set_={"failed_pins": case((stale, 1), else_=CallerGuard.failed_pins + 1),
              "window_start": case((stale, now), else_=CallerGuard.window_start)},
    ))  # fmt: skip


@dataclass(frozen=True)
class Unlocked:
    """What `unlock` cleared for a number: the lock-out and the wrong PINs counted before."""

    id_number: str | None  # the ID of the person with the number; None when not on file
    locked: bool
    failed_pins: int


def unlock(session: Session, kind: str, number: str) -> Unlocked:
    """Clear the lock-out of an ID ("id") or card ("card") number, on file or not.

    A person's ID and card share the person's counter; a number not on file has a probe
    guard of its own, which goes too (an ID's may be left from before it was on file).
    """
    column = Person.id_number if kind == "id" else Person.card_number
    person = session.execute(
        select(Person.id_number, Person.locked, Person.failed_pins)
        .where(column == number)
        .with_for_update()
    ).first()
    if person is not None:
        session.execute(
            update(Person)
            .where(column == number)
            .values(failed_pins=0, locked=False)
            .execution_options(synchronize_session=False)
        )
    secret = session.scalar(select(HotlineSecret.value).where(HotlineSecret.name == PROBE_SECRET))
    guard = None
    if secret is not None:  # else no number has ever had a guard
        guard = session.execute(
            delete(ProbeGuard)
            .where(ProbeGuard.key == _hmac(secret, kind, number))
            .returning(ProbeGuard.locked, ProbeGuard.failed_pins)
        ).first()
    counted = [row for row in (person, guard) if row is not None]
    return Unlocked(
        id_number=person.id_number if person is not None else None,
        locked=any(row.locked for row in counted),
        failed_pins=max((row.failed_pins for row in counted), default=0),
    )


def hashes_by_key(session: Session) -> dict[str, int]:
    """How many stored PIN hashes each key id made (`legacy`: werkzeug's, unkeyed)."""
    keyed = Person.pin_hash.like(f"{pins.SCHEME}$%")
    kind = case((keyed, func.substr(Person.pin_hash, 5, pins.KEY_ID_LEN)), else_=pins.LEGACY)
    rows = session.execute(select(kind, func.count()).group_by(kind)).all()
    return {name: count for name, count in rows}
