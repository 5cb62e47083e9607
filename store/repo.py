"""Data access for the webhook: account data read-backs and the call state rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, case, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from store.lockout import insert_ignore
from store.models import Binding, Call, CallAudio, CallEvent, MenuVersion, Person
from store.records import BalanceData, BindingInfo, FamilyData, InsuredData

# The webhook's statements are built once: building a select costs more than running it.
_PERSONS, _BINDINGS, _CALLS = Person.__table__, Binding.__table__, Call.__table__
_OTHER = _PERSONS.alias("other")
_BALANCE = select(_PERSONS.c.balance_fen, _PERSONS.c.balance_as_of).where(
    _PERSONS.c.id == bindparam("person")
)
_INSURED = select(_PERSONS.c.insured_status, _PERSONS.c.scheme, _PERSONS.c.insured_region).where(
    _PERSONS.c.id == bindparam("person")
)
# Both roles in one query: the person's bindings as payer (mine = payer) and as beneficiary.
_FAMILY = (
    select(
        (_BINDINGS.c.payer_id == bindparam("person")).label("as_payer"),
        _BINDINGS.c.relation, _BINDINGS.c.status, _BINDINGS.c.bound_on, _BINDINGS.c.priority,
        _OTHER.c.insured_status, _OTHER.c.name,
    )
    .join(_OTHER, _OTHER.c.id == case(
        (_BINDINGS.c.payer_id == bindparam("person"), _BINDINGS.c.beneficiary_id),
        else_=_BINDINGS.c.payer_id,
    ))
    .where(or_(_BINDINGS.c.payer_id == bindparam("person"),
               _BINDINGS.c.beneficiary_id == bindparam("person")))
    .order_by(_BINDINGS.c.id)
)  # fmt: skip
_PEEK_CALL = select(_CALLS).where(_CALLS.c.call_sid == bindparam("sid"))
_LOAD_CALL = _PEEK_CALL.with_for_update()
_UPDATE_CALL = update(_CALLS).where(_CALLS.c.call_sid == bindparam("sid"))
_FORGET_ANSWER = _UPDATE_CALL.values(last_answer=None)
_INSERT_EVENT = insert(CallEvent.__table__)
_AUDIO = CallAudio.__table__
_DROP_EXPIRED_AUDIO = delete(_AUDIO).where(_AUDIO.c.expires_at <= bindparam("now"))
_DROP_AUDIO = delete(_AUDIO).where(
    or_(_AUDIO.c.call_sid == bindparam("sid"), _AUDIO.c.expires_at <= bindparam("now"))
)
Db = Session | Connection  # a request's session, or the connection it already holds


def _conn(db: Db) -> Connection:
    """The connection to run a prebuilt statement on (a session's costs a lookup per call)."""
    return db if isinstance(db, Connection) else db.connection()


def balance(db: Db, person_id: int) -> BalanceData:
    """The person's 医保个人账户 balance."""
    row = _conn(db).execute(_BALANCE, {"person": person_id}).one()
    return BalanceData(row.balance_fen, row.balance_as_of)


def insured(db: Db, person_id: int) -> InsuredData:
    """The person's 参保 status."""
    row = _conn(db).execute(_INSURED, {"person": person_id}).one()
    return InsuredData(row.insured_status, row.scheme, row.insured_region)


def family(db: Db, person_id: int) -> FamilyData:
    """The person's 家庭共济 bindings as payer and as beneficiary."""
    connection = _conn(db)
    mine = connection.execute(_INSURED, {"person": person_id}).one().insured_status
    rows = connection.execute(_FAMILY, {"person": person_id}).all()
    roles: tuple[list[BindingInfo], list[BindingInfo]] = ([], [])
    for row in rows:
        info = BindingInfo(row.relation, row.name, row.status, row.bound_on, row.priority)
        if info.status == "active" and (mine != "active" or row.insured_status != "active"):
            info = replace(info, status="lapsed")  # either party not actively insured
        roles[0 if row.as_payer else 1].append(info)
    return FamilyData(as_payer=tuple(roles[0]), as_beneficiary=tuple(roles[1]))


def load_call(db: Db, call_sid: str) -> Row[Any] | None:
    """The call's state row, locked for this request so one call's steps serialise."""
    return _conn(db).execute(_LOAD_CALL, {"sid": call_sid}).first()


def peek_call(db: Db, call_sid: str) -> Row[Any] | None:
    """The call's state row, read without a lock (to decide what a request must check)."""
    return _conn(db).execute(_PEEK_CALL, {"sid": call_sid}).first()


def save_call(db: Db, call_sid: str, values: dict[str, Any], *, new: bool) -> bool:
    """Write a call's row: insert it for a new call, else update the columns in `values`.

    False when a new call's row was already there (another request inserted it first);
    nothing is written then.
    """
    connection = _conn(db)
    if new:
        # A call's first request may come twice at once (a retry, Twilio's fallback): the
        # row goes in once, and the other request waits for it (PostgreSQL), then reads it.
        return insert_ignore(connection, Call, call_sid=call_sid, **values)
    connection.execute(_UPDATE_CALL, {"sid": call_sid, **values})
    return True


def add_event(
    db: Db, call_sid: str, seq: int, node: str, masked: str, outcome: str, at: datetime
) -> None:
    """Append one row to the call-event log (input already masked)."""
    _conn(db).execute(_INSERT_EVENT, {
        "call_sid": call_sid, "seq": seq, "node": node, "input_masked": masked,
        "outcome": outcome, "at": at,
    })  # fmt: skip


def drop_expired_audio(db: Db, now: int) -> None:
    """Forget every read-back past its expiry (calls whose end was never reported)."""
    _conn(db).execute(_DROP_EXPIRED_AUDIO, {"now": now})


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


def drop_audio(db: Db, call_sid: str, now: int) -> None:
    """Forget an ended call's read-backs (its audio and its last answer), and anyone's
    audio that has expired."""
    connection = _conn(db)
    connection.execute(_DROP_AUDIO, {"sid": call_sid, "now": now})
    connection.execute(_FORGET_ANSWER, {"sid": call_sid})


def save_menu_version(db: Db, version: str, stored: Mapping[str, Any], now: datetime) -> None:
    """Keep a menu version's files, once: calls that start in it may outlive this process."""
    files = json.dumps(dict(stored), ensure_ascii=False, sort_keys=True)
    insert_ignore(_conn(db), MenuVersion, version=version, files=files, saved_at=now)


def menu_version(db: Db, version: str) -> dict[str, Any] | None:
    """A stored menu version ({"menu": file name, "files": {path: text}}), or None."""
    query = select(MenuVersion.files).where(MenuVersion.version == version)
    files = _conn(db).execute(query).scalar()
    return json.loads(files) if files is not None else None
