"""Data access for the webhook: account data read-backs and the call state rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, aliased

from ivr.domain import BalanceData, BindingInfo, FamilyData, InsuredData
from store.models import Binding, Call, CallAudio, CallEvent, Person


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


def drop_expired_audio(session: Session, now: int) -> None:
    """Forget every read-back past its expiry (calls whose end was never reported)."""
    session.execute(delete(CallAudio).where(CallAudio.expires_at <= now))


def find_audio(session: Session, call_sid: str, token: str, now: int) -> CallAudio | None:
    """A call's live read-back: its own CallSid, not expired, and the call not over.

    The step that hangs up may still speak a read-back, so a call that the engine ended
    keeps the audio of its last step until Twilio reports the call over (or it expires).
    """
    audio = session.get(CallAudio, token)
    if audio is None or audio.call_sid != call_sid or audio.expires_at <= now:
        return None
    call = session.get(Call, call_sid)
    if call is None or (call.ended and audio.seq < call.seq):
        return None
    return audio


def drop_audio(session: Session, call_sid: str, now: int) -> None:
    """Forget an ended call's read-backs, and anyone's that have expired."""
    session.execute(
        delete(CallAudio).where(or_(CallAudio.call_sid == call_sid, CallAudio.expires_at <= now))
    )
