"""The adapter between the pure engine and the database: effects, state rows, masking."""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ivr.core.engine import step
from ivr.core.events import (
    Action,
    CallState,
    CheckPin,
    Effect,
    Env,
    Event,
    Fetch,
    Fetched,
    Identified,
    Identify,
    PinChecked,
)
from ivr.core.identity import mask_keyed
from ivr.core.model import Field, Menu, NodeType, Service
from ivr.core.trace import TRACE_HEADER, encode
from ivr.menu.versions import MenuVersions
from ivr.web.served import ServedMenu
from store import lockout, repo, statements
from store.lockout import PinVerdict
from store.pins import HOW_TO, PinKeyError, PinKeyring
from store.records import PinOutcome

STATE_FIELDS = tuple(f.name for f in fields(CallState))
MAX_EFFECTS = 8  # one step needs at most identify, check PIN, fetch; more is a bug


@dataclass(frozen=True)
class PinCheck:
    """How this request checks a PIN: a verdict reached ahead of the write transaction,
    and the per-caller-number throttle of wrong PINs (IVR_CALLER_PIN_LIMIT)."""

    verdict: PinVerdict | None = None
    caller: str = ""
    limit: tuple[int, int] | None = None  # (wrong PINs, window seconds); None: no throttle
    now: int = 0  # Unix seconds
    keys: PinKeyring | None = None  # None: no PIN key set, so no PIN can be checked

    def check(self, session: Session, effect: CheckPin) -> PinOutcome:
        """Refuse a throttled number, else check the PIN and count a wrong one."""
        if self.keys is None:  # the caller hears an apology; nothing is counted
            raise PinKeyError(f"a PIN was keyed but no PIN key is set; {HOW_TO}")
        args = (self.keys, effect.person_id, effect.probe, effect.pin, self.verdict)
        if self.limit is None:
            return lockout.check_pin(session, *args)
        count, window = self.limit
        if lockout.caller_throttled(session, self.caller, count, window, self.now):
            return PinOutcome.THROTTLED
        outcome, right = lockout.attempt_pin(session, *args)
        if not right:  # the owner's right PIN on a locked account is not the number's fault
            lockout.count_caller_failure(session, self.caller, window, self.now)
        return outcome


def pin_to_check(
    session: Session, menu_of: Callable[[Any], Menu], call_sid: str
) -> tuple[int | None, str | None] | None:
    """(person id, stored PIN hash) when the call waits at the PIN prompt for this person.

    `menu_of` gives the menu a call's row started with (its menu version).
    """
    row = repo.peek_call(session, call_sid)
    if row is None or row.ended or row.verified or not row.identified:
        return None
    node = menu_of(row).nodes.get(row.node)
    if node is None or node.type != NodeType.INPUT or node.field != Field.PIN:
        return None
    return row.person_id, lockout.stored_hash(session, row.person_id)


class StepDb:
    """A request's database access: its connection, for the prebuilt statements, and an ORM
    session in the same transaction, made only when code that needs one (lock-out) runs."""

    def __init__(self, connection: Connection) -> None:
        """Hold the request's connection; no session yet."""
        self.connection = connection
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The ORM session on this connection (joins its transaction; commits nothing)."""
        if self._session is None:
            self._session = Session(bind=self.connection, expire_on_commit=False)
        return self._session

    def commit(self) -> None:
        """Flush what the session holds, then commit the request's transaction."""
        if self._session is not None:
            self._session.flush()
        self.connection.commit()

    def rollback(self) -> None:
        """Forget the session's objects and roll the transaction back."""
        if self._session is not None:
            self._session.rollback()
        self.connection.rollback()

    def close(self) -> None:
        """End the session, and hand the connection back to the pool (rolling back)."""
        if self._session is not None:
            self._session.close()
        self.connection.close()


@dataclass(frozen=True)
class Step:
    """What one webhook request did: the new state and what the caller hears."""

    state: CallState
    actions: list[Action]  # of every engine step the request took, effects left out

    def headers(self) -> dict[str, str]:
        """The answer's metadata: where the engine took the call (ivr.core.trace)."""
        return {TRACE_HEADER: encode(self.actions)}


def perform(db: StepDb, effect: Effect, env: Env, pins: PinCheck | None = None) -> Event:
    """Carry out an effect the engine asked for and return its result as an event."""
    match effect:
        case Identify(kind=kind, number=number):
            return Identified(*lockout.identify(db.session, kind, number), env)
        case CheckPin():
            return PinChecked((pins or PinCheck()).check(db.session, effect), env)
        case Fetch(service=Service.BALANCE, person_id=pid):
            return Fetched(repo.balance(db.connection, pid), env)
        case Fetch(service=Service.FAMILY, person_id=pid):
            return Fetched(repo.family(db.connection, pid), env)
        case Fetch(service=Service.SOCIAL_STATUS, person_id=pid):
            return Fetched(repo.insured(db.connection, pid), env)
        case Fetch(service=Service.STATEMENT, person_id=pid):
            return Fetched(statements.statement(db.connection, pid, env.today), env)
    raise TypeError(f"not an effect: {effect!r}")


def drive(
    db: StepDb, menu: Menu, state: CallState, event: Event, pins: PinCheck | None = None
) -> Step:
    """Step the engine, performing effects, until the call waits or ends."""
    spoken: list[Action] = []
    for _ in range(MAX_EFFECTS):
        state, actions = step(menu, state, event)
        effect = actions[-1] if actions and isinstance(actions[-1], Effect) else None
        spoken.extend(actions[:-1] if effect else actions)
        if effect is None:
            return Step(state, spoken)
        event = perform(db, effect, event.env, pins)
    raise RuntimeError("the engine asked for too many effects in one step")


def state_of(row: Any) -> CallState:
    """The engine state stored in a call row."""
    return CallState(**{name: getattr(row, name) for name in STATE_FIELDS})


def store_state(
    db: repo.Db, row: Any | None, call_sid: str, from_number: str, state: CallState,
    now: datetime, edition: ServedMenu | None = None, saved: Container[str] = (),
    answer: str | None = None,
) -> bool:  # fmt: skip
    """Write the engine state and the step's answer into the call row, creating it for a
    new call with the version of the menu it starts in, which it keeps to its end.

    False when a new call's row was inserted meanwhile by another request: nothing is saved.
    """
    values = {name: getattr(state, name) for name in STATE_FIELDS}
    values.update(updated_at=now, last_answer=answer)
    if row is None:
        version = edition.version if edition else None
        values.update(from_number=from_number, started_at=now, menu_version=version)
    if row is None and edition is not None and edition.version not in saved:
        # The version's first call here: its files go in with the call, in one transaction.
        repo.save_menu_version(db, edition.version, edition.stored(), now)
    return repo.save_call(db, call_sid, values, new=row is None)


def edition_of(db: repo.Db, editions: MenuVersions[ServedMenu], row: Any | None) -> ServedMenu:
    """The menu version of a call: the one its row names (from the database when this
    process never loaded it), or the newest for a new call (row None)."""
    version = row.menu_version if row is not None else None
    return editions.for_call(version, lambda v: repo.menu_version(db, v))


def mask_input(menu: Menu, node_name: str, digits: str) -> str:
    """What the event log may keep of keyed input: PINs fully hidden, IDs to the last 4."""
    node = menu.nodes.get(node_name)
    if node is not None and node.type == NodeType.INPUT and node.field == Field.PIN:
        return "*" * min(len(digits), 16)
    return mask_keyed(digits[:32])
