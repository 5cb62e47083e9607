"""The `transactions` of an import file (账户明细), each checked on its own.

The rules between records (the holder and the beneficiary exist, a binding covers a
family payment, a serial appears once per holder) are joins at apply time
(store/import_checks.py): a city's ten million movements are never held in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from store.id_numbers import mask_id
from store.import_fields import Record, parse_yuan
from store.records import FAMILY_KINDS, TxKind

REF = re.compile(r"[A-Za-z0-9-]{1,32}")  # the serial (流水号): ASCII only, as keyed or printed
EARLIEST = date(2000, 1, 1)  # no 医保个人账户 movement on file is older
KINDS = frozenset(kind.value for kind in TxKind)
_FAMILY = frozenset(kind.value for kind in FAMILY_KINDS)


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A validated movement of one holder's 医保个人账户."""

    id_number: str  # the holder
    ref: str
    booked_on: date
    kind: str
    amount_fen: int
    beneficiary: str | None  # the relative a family_* payment was for; None otherwise


def transaction_label(index: int, id_number: str) -> str:
    """How an error names a transaction record."""
    return f"transactions[{index}] (ID {mask_id(id_number)})"


def transaction(index: int, raw: Any, today: date) -> TransactionRecord:
    """Validate one movement (fields in a fixed order: the first bad one is named)."""
    rec = Record(f"transactions[{index}]", raw)
    holder = rec.id_number("id_number", today)
    rec.label = transaction_label(index, holder)
    ref = rec.text("ref") or ""
    if not REF.fullmatch(ref):
        raise rec.fail("ref", "must be 1 to 32 characters of A-Z, a-z, 0-9 and -")
    booked_on = rec.day("date", today)
    if booked_on < EARLIEST:
        raise rec.fail("date", f"{booked_on} is before {EARLIEST}")
    kind = rec.choice("kind", KINDS)
    try:
        amount_fen = parse_yuan(raw.get("amount"))
    except ValueError as exc:
        raise rec.fail("amount", str(exc)) from None
    if amount_fen == 0:
        raise rec.fail("amount", "must be more than 0 (the kind says which way it went)")
    return TransactionRecord(holder, ref, booked_on, kind, amount_fen,
                             _beneficiary(rec, kind, holder, today))  # fmt: skip


def _beneficiary(rec: Record, kind: str, holder: str, today: date) -> str | None:
    """The relative of a family_* payment (required), or None for any other kind (refused)."""
    if kind not in _FAMILY:
        if rec.raw.get("beneficiary") is not None:
            raise rec.fail("beneficiary", f"only a family_* movement has one, not {kind}")
        return None
    if rec.raw.get("beneficiary") is None:
        raise rec.fail("beneficiary", f"required for {kind}: the relative it paid for")
    beneficiary = rec.id_number("beneficiary", today)
    if beneficiary == holder:
        raise rec.fail("beneficiary", "the holder's own ID: 家庭共济 pays for a relative")
    return beneficiary
