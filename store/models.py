"""SQLAlchemy models: insured persons, 家庭共济 bindings, account movements, call state and
call events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base for every table of the hotline."""


class Person(Base):
    """An insured person: identity, PIN hash, lock-out counter and 医保 account."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    card_number: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    # A salted HMAC under a key kept outside the database (store/pins.py), or a werkzeug
    # hash from before keyed hashing; the PIN itself is never stored.
    pin_hash: Mapped[str] = mapped_column(String(256))
    insured_region: Mapped[str] = mapped_column(String(6))
    scheme: Mapped[str] = mapped_column(String(16))
    insured_status: Mapped[str] = mapped_column(String(16))
    balance_fen: Mapped[int] = mapped_column(BigInteger)
    balance_as_of: Mapped[date] = mapped_column(Date)
    failed_pins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class Binding(Base):
    """A 家庭共济 binding: `payer` (共济人) lets `beneficiary` (被共济人) spend."""

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("payer_id", "beneficiary_id"),
        # A payer's rank is unique per beneficiary, revoked bindings aside.
        Index(
            "uq_bindings_rank",
            "beneficiary_id",
            "priority",
            unique=True,
            sqlite_where=text("status != 'revoked'"),
            postgresql_where=text("status != 'revoked'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    # The beneficiary's relation to the payer, as in the import file.
    relation: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    bound_on: Mapped[date] = mapped_column(Date)

    payer: Mapped[Person] = relationship(foreign_keys=[payer_id])
    beneficiary: Mapped[Person] = relationship(foreign_keys=[beneficiary_id])


class Transaction(Base):
    """One movement of a 医保个人账户 (a 账户明细 line), keyed by its holder and serial."""

    __tablename__ = "transactions"
    __table_args__ = (
        # The statement reads a holder's movements, and those paid for a beneficiary, newest
        # first in a window of days: each is one range of one of these indexes.
        Index("ix_transactions_person_booked", "person_id", "booked_on"),
        Index(
            "ix_transactions_beneficiary_booked",
            "beneficiary_id",
            "booked_on",
            sqlite_where=text("beneficiary_id IS NOT NULL"),
            postgresql_where=text("beneficiary_id IS NOT NULL"),
        ),
    )

    # A re-import replaces a movement by (holder, serial): the key, with no surrogate id
    # and its index to keep up for a city's ten million rows.
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), primary_key=True)  # the serial (流水号)
    booked_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(24))  # a TxKind
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # > 0; the kind says which way
    # The relative whose costs a family_* movement paid; NULL for every other kind.
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)


class ProbeGuard(Base):
    """Wrong-PIN counter for an ID or card number that is not on file.

    Unknown numbers lock exactly as real ones do, so a caller cannot tell them apart.
    """

    __tablename__ = "probe_guards"

    # HMAC-SHA256 of the number under the database's own secret: never the number itself.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_pins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class CallerGuard(Base):
    """Wrong PINs keyed from one caller number in the current window (IVR_CALLER_PIN_LIMIT).

    It lets an operator stop one number from locking other people out; see docs/security.md.
    """

    __tablename__ = "caller_guards"

    # HMAC-SHA256 of the caller number under the database's secret, like ProbeGuard.key.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger)  # Unix seconds
    failed_pins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class HotlineSecret(Base):
    """Random keys the hotline keeps in its database, shared by every worker."""

    __tablename__ = "hotline_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class Call(Base):
    """The state of one call, keyed by Twilio's CallSid, so any worker can serve it."""

    __tablename__ = "calls"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    from_number: Mapped[str] = mapped_column(String(32), default="")
    node: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    # The engine's CallState as JSON-able columns; no PIN and no ID number ever.
    no_input: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    auth_failures: Mapped[int] = mapped_column(Integer, default=0)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    probe: Mapped[str | None] = mapped_column(String(64), nullable=True)
    identified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    after_auth: Mapped[str | None] = mapped_column(String(64), nullable=True)
    menu: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ended: Mapped[bool] = mapped_column(Boolean, default=False)
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    page: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The menu version the call started in: it keeps that menu when the YAML is reloaded.
    menu_version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The TwiML of the step that brought the call to `seq`, which Twilio's fallback URL repeats
    # when that answer was lost. It says what the caller was told (a balance read from this
    # database, masked names), never what was keyed; the call's end forgets it.
    last_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CallEvent(Base):
    """One step of a call, append-only: what was keyed (masked) and what came of it."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    node: Mapped[str] = mapped_column(String(64))
    input_masked: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CallAudio(Base):
    """A read-back of one call, to be joined into audio when Twilio fetches its secret URL.

    It holds what the caller is told (a balance, masked names), never an ID or a PIN, and
    lives only until the call ends or `expires_at` (Unix seconds) passes.
    """

    __tablename__ = "call_audio"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    lang: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class PhoneCall(Base):
    """A developer softphone call (IVR_SOFTPHONE): the simulated caller's state as JSON.

    Any worker may serve the page's next request, so the caller lives here, not in memory.
    It holds what the caller heard and keyed, masked as transcripts are; rows older than an
    hour are deleted whenever a softphone call starts.
    """

    __tablename__ = "phone_calls"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MenuVersion(Base):
    """The menu files as a call began with them, so that any worker, even after a restart
    or a reload, goes on with the version that call started in."""

    __tablename__ = "menu_versions"

    version: Mapped[str] = mapped_column(String(16), primary_key=True)
    # JSON: {"menu": its file name, "files": {path relative to the menu's folder: text}}
    files: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
