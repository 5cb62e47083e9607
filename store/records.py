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


class TxKind(StrEnum):
    """What moved money in or out of a 医保个人账户 (one 账户明细 entry)."""

    CREDIT = "credit"  # 个人账户划入: the monthly credit
    HOSPITAL = "hospital"  # spent at a 定点医疗机构
    PHARMACY = "pharmacy"  # spent at a 定点零售药店
    FAMILY_HOSPITAL = "family_hospital"  # 家庭共济: a relative's hospital costs
    FAMILY_PHARMACY = "family_pharmacy"  # 家庭共济: a relative's pharmacy costs
    FAMILY_CONTRIBUTION = "family_contribution"  # 家庭共济: a relative's 居民医保 contribution
    REFUND = "refund"  # 退费


FAMILY_KINDS = frozenset({TxKind.FAMILY_HOSPITAL, TxKind.FAMILY_PHARMACY,
                          TxKind.FAMILY_CONTRIBUTION})  # fmt: skip
STATEMENT_MONTHS = 12  # the statement covers the movements of the last 12 months
STATEMENT_MAX = 20  # entries a caller can page through, newest first


@dataclass(frozen=True)
class StatementEntry:
    """One line of a caller's 账户明细, as the caller may hear it."""

    on: date
    kind: TxKind
    amount_fen: int  # always > 0; the kind says which way the money went
    # The relative in a 家庭共济 entry: the beneficiary the caller paid for, or (covered)
    # the payer whose account paid for the caller. Full name; only ever spoken masked.
    other_name: str | None = None
    covered: bool = False  # a payer's family_* payment for this caller, not the caller's own


@dataclass(frozen=True)
class StatementData:
    """The caller's 账户明细 over the last STATEMENT_MONTHS months, up to today."""

    count: int  # movements in those months: the caller's own and those covered for them
    entries: tuple[StatementEntry, ...]  # newest first (date, then ref), at most STATEMENT_MAX
    # The caller's own family_* spending this calendar year, when the caller is a payer of
    # any binding (any status); None when the caller pays for no one.
    family_year_fen: int | None = None
