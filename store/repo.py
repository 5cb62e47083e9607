"""Data access for the webhook: identify, check PINs, read account data, keep call state."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.domain import BalanceData, BindingInfo, FamilyData, InsuredData, PinOutcome
from store.models import Binding, Call, CallEvent, Person

PIN_LOCK_AFTER = 3  # consecutive wrong PINs that lock a person's self-service


def hash_pin(pin: str) -> str:
    """A salted slow hash of a PIN (werkzeug's scrypt)."""
    return generate_password_hash(pin, method="scrypt")


@cache
def _dummy_hash() -> str:
    """A hash to check unknown callers against, so they take as long as known ones."""
    return hash_pin("000000")


def find_person_id(session: Session, kind: str, number: str) -> int | None:
    """The row id of the person an ID number (kind 'id') or card number names."""
    column = Person.id_number if kind == "id" else Person.card_number
    return session.scalar(select(Person.id).where(column == number))


def check_pin(session: Session, person_id: int | None, pin: str) -> PinOutcome:
    """Check a PIN and keep the lock-out counter exact under concurrent attempts."""
    person = None
    if person_id is not None:
        person = session.scalars(
            select(Person).where(Person.id == person_id).with_for_update()
        ).first()
    if person is None:
        check_password_hash(_dummy_hash(), pin)
        return PinOutcome.WRONG
    if person.locked:
        return PinOutcome.LOCKED
    if check_password_hash(person.pin_hash, pin):
        reset = session.execute(
            update(Person)
            .where(Person.id == person_id, Person.locked.is_(False))
            .values(failed_pins=0)
            .execution_options(synchronize_session=False)
        )
        return PinOutcome.OK if reset.rowcount else PinOutcome.LOCKED
    # Increment in SQL, not in Python, so racing wrong PINs are all counted; the guard on
    # `locked` keeps a lock that another request has just set.
    failed = Person.failed_pins + 1
    row = session.execute(
        update(Person)
        .where(Person.id == person_id, Person.locked.is_(False))
        .values(failed_pins=failed, locked=failed >= PIN_LOCK_AFTER)
        .returning(Person.locked)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return PinOutcome.LOCKED
    return PinOutcome.JUST_LOCKED if row.locked else PinOutcome.WRONG


def unlock(session: Session, id_number: str) -> bool:
    """Clear a person's PIN lock-out; False when no such person."""
    result = session.execute(
        update(Person)
        .where(Person.id_number == id_number)
        .values(failed_pins=0, locked=False)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def balance(session: Session, person_id: int) -> BalanceData:
    """The person's 医保个人账户 balance."""
    person = session.get_one(Person, person_id)
    return BalanceData(person.balance_fen, person.balance_as_of)


def insured(session: Session, person_id: int) -> InsuredData:
    """The person's 参保 status."""
    person = session.get_one(Person, person_id)
    return InsuredData(person.insured_status, person.scheme, person.insured_region)


def family(session: Session, person_id: int) -> FamilyData:
    """The person's 家庭共济 bindings as payer and as beneficiary."""
    me = session.get_one(Person, person_id)
    other = aliased(Person)
    roles = []
    for mine, theirs in ((Binding.payer_id, Binding.beneficiary_id),
                         (Binding.beneficiary_id, Binding.payer_id)):  # fmt: skip
        rows = session.execute(
            select(Binding, other.insured_status, other.name)
            .join(other, other.id == theirs)
            .where(mine == person_id)
            .order_by(Binding.id)
        ).all()
        roles.append(tuple(_binding_info(b, me.insured_status, st, name) for b, st, name in rows))
    return FamilyData(as_payer=roles[0], as_beneficiary=roles[1])


def _binding_info(binding: Binding, my_status: str, other_status: str, other: str) -> BindingInfo:
    """A binding as heard; an active one lapses when either party is not actively insured."""
    status = binding.status
    if status == "active" and (my_status != "active" or other_status != "active"):
        status = "lapsed"
    return BindingInfo(binding.relation, other, status, binding.bound_on, binding.priority)


def load_call(session: Session, call_sid: str) -> Call | None:
    """The call's state row, locked for this request so one call's steps serialise."""
    return session.scalars(select(Call).where(Call.call_sid == call_sid).with_for_update()).first()


def add_event(
    session: Session, call_sid: str, seq: int, node: str, masked: str, outcome: str, at: datetime
) -> None:
    """Append one row to the call-event log (input already masked)."""
    session.add(
        CallEvent(
            call_sid=call_sid, seq=seq, node=node, input_masked=masked, outcome=outcome, at=at
        )
    )
