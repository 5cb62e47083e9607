"""Plain domain records passed between the store, the engine and the read-backs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class PinOutcome(StrEnum):
    """The result of checking a PIN; an unknown person is WRONG, indistinguishably."""

    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"  # already locked before this attempt
    JUST_LOCKED = "just_locked"  # this wrong attempt locked the person
    THROTTLED = "throttled"  # not checked: too many wrong PINs from this caller number


# The beneficiary's relation to the payer, seen from the beneficiary's side.
INVERSE_RELATION = {
    "spouse": "spouse",
    "parent": "child",
    "child": "parent",
    "sibling": "sibling",
    "grandparent": "grandchild",
    "maternal_grandparent": "maternal_grandchild",
    "grandchild": "grandparent",
    "maternal_grandchild": "maternal_grandparent",
}
RELATIONS = frozenset(INVERSE_RELATION)
SCHEMES = frozenset({"employee", "resident"})
INSURED_STATUSES = frozenset({"active", "suspended", "terminated"})
BINDING_STATUSES = frozenset({"active", "pending", "revoked"})


@dataclass(frozen=True)
class BalanceData:
    """The 医保个人账户 balance in integer 分, and the day it was taken."""

    balance_fen: int
    as_of: date


@dataclass(frozen=True)
class InsuredData:
    """The caller's 参保 status."""

    insured_status: str
    scheme: str
    insured_region: str


@dataclass(frozen=True)
class BindingInfo:
    """One 家庭共济 binding as the caller may hear it: never the other's balance."""

    relation: str  # the beneficiary's relation to the payer, as imported
    other_name: str  # the other party's full name; only ever spoken masked
    status: str  # active | pending | revoked | lapsed
    bound_on: date
    priority: int


@dataclass(frozen=True)
class FamilyData:
    """The caller's bindings as payer (共济人) and as beneficiary (被共济人)."""

    as_payer: tuple[BindingInfo, ...]
    as_beneficiary: tuple[BindingInfo, ...]
