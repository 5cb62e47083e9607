"""Data access for the webhook: account data read-backs and the call state rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ivr.domain import BalanceData, BindingInfo, FamilyData, InsuredData
from store.models import Binding, Call, CallEvent, Person


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
