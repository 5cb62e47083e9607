"""The demo accounts: a Urumqi family with every kind of 家庭共济 binding, and a few others,
each with a month or two of 账户明细."""

from __future__ import annotations

from typing import Any


def _person(id_number, card, name, pin, region, scheme, status, balance) -> dict[str, str]:
    """One person record in the import format."""
    return {
        "id_number": id_number, "card_number": card, "name": name, "pin": pin,
        "insured_region": region, "scheme": scheme, "insured_status": status,
        "balance": balance, "balance_as_of": "2026-11-01",
    }  # fmt: skip


def _binding(payer, beneficiary, relation, priority, status, bound_on) -> dict[str, Any]:
    """One binding record in the import format."""
    return {
        "payer": payer, "beneficiary": beneficiary, "relation": relation,
        "priority": priority, "status": status, "bound_on": bound_on,
    }  # fmt: skip


WANG_JIANGUO = "65010219680312109X"  # payer of three bindings; his ID ends in X
LI_XIUYING = "650103197001152426"  # payer and beneficiary (pending)
WANG_LI = "650104199508171007"  # beneficiary of two payers, ranked
WANG_JIANHUA = "650105197211031035"  # revoked beneficiary; payer of a lapsed binding
OUYANG_MING = "65010619451020201X"  # suspended: his binding has lapsed
ZHANG_WEI = "310101198507072013"  # Shanghai, no bindings
CHEN_GANG = "653101199002143010"  # Kashgar, terminated, balance zero


# 账户明细, October and November 2026 (the balances are as of 1 November), and a few older
# ones: (holder, serial, date, kind, yuan, the relative a family_* payment was for).
TRANSACTIONS = [
    (CHEN_GANG, "YB25100100017", "2025-10-01", "credit", "156.00", None),  # over 12 months
    (WANG_JIANGUO, "YB25121000231", "2025-12-10", "family_hospital", "860.00", WANG_JIANHUA),
    (WANG_JIANGUO, "YB26100100017", "2026-10-01", "credit", "245.30", None),
    (LI_XIUYING, "YB26100100025", "2026-10-01", "credit", "198.60", None),
    (WANG_JIANHUA, "YB26100100041", "2026-10-01", "credit", "1250.00", None),
    (ZHANG_WEI, "SH26100100011", "2026-10-01", "credit", "312.15", None),
    (OUYANG_MING, "YB26100500112", "2026-10-05", "pharmacy", "12.00", None),
    (CHEN_GANG, "YB26100800310", "2026-10-08", "pharmacy", "156.00", None),
    (WANG_JIANGUO, "YB26100900412", "2026-10-09", "pharmacy", "86.50", None),
    (ZHANG_WEI, "SH26101200519", "2026-10-12", "hospital", "1480.00", None),
    (WANG_JIANHUA, "YB26101500620", "2026-10-15", "family_contribution", "400.00", OUYANG_MING),
    (WANG_JIANGUO, "YB26101800733", "2026-10-18", "family_pharmacy", "128.00", WANG_LI),
    (WANG_LI, "YB26102200841", "2026-10-22", "pharmacy", "10.00", None),
    (LI_XIUYING, "YB26102500950", "2026-10-25", "family_pharmacy", "45.80", WANG_LI),
    (WANG_JIANHUA, "YB26102701066", "2026-10-27", "hospital", "2365.40", None),
    (ZHANG_WEI, "SH26102901102", "2026-10-29", "refund", "120.00", None),
    (WANG_JIANGUO, "YB26110100017", "2026-11-01", "credit", "245.30", None),
    (LI_XIUYING, "YB26110100025", "2026-11-01", "credit", "198.60", None),
    (WANG_JIANHUA, "YB26110100041", "2026-11-01", "credit", "1250.00", None),
    (ZHANG_WEI, "SH26110100011", "2026-11-01", "credit", "312.15", None),
    (WANG_LI, "YB26110301205", "2026-11-03", "refund", "2.05", None),
    (WANG_JIANGUO, "YB26110601318", "2026-11-06", "hospital", "312.40", None),
    (LI_XIUYING, "YB26110801427", "2026-11-08", "family_contribution", "400.00", WANG_LI),
    (ZHANG_WEI, "SH26111001536", "2026-11-10", "pharmacy", "58.90", None),
    (WANG_JIANGUO, "YB26111201649", "2026-11-12", "family_hospital", "560.00", WANG_LI),
    (LI_XIUYING, "YB26111501752", "2026-11-15", "pharmacy", "66.20", None),
    (WANG_JIANGUO, "YB26111901860", "2026-11-19", "refund", "32.00", None),
    (WANG_JIANHUA, "YB26112001971", "2026-11-20", "pharmacy", "75.00", None),
]


def _transaction(holder, ref, day, kind, amount, beneficiary) -> dict[str, str]:
    """One transaction record in the import format (no beneficiary key unless family_*)."""
    record = {"id_number": holder, "ref": ref, "date": day, "kind": kind, "amount": amount}
    return record if beneficiary is None else {**record, "beneficiary": beneficiary}


def demo_data() -> dict[str, list[dict[str, Any]]]:
    """The demo import file's content (PINs are demo PINs, printed in the README)."""
    persons = [
        _person(WANG_JIANGUO, "650100017", "王建国", "135790", "650102", "employee", "active",
                "1234.56"),
        _person(LI_XIUYING, "650100025", "李秀英", "246810", "650103", "employee", "active",
                "2300.00"),
        _person(WANG_LI, "650100033", "王丽", "112233", "650104", "resident", "active", "10.05"),
        _person(WANG_JIANHUA, "650100041", "王建华", "975310", "650105", "employee", "active",
                "200000.00"),
        _person(OUYANG_MING, "650100059", "欧阳明", "192837", "650106", "resident", "suspended",
                "0.50"),
        _person(ZHANG_WEI, "310100011", "张伟", "123456", "310101", "employee", "active",
                "10000.01"),
        _person(CHEN_GANG, "653100018", "陈刚", "654321", "653101", "employee", "terminated",
                "0.00"),
    ]  # fmt: skip
    bindings = [
        _binding(WANG_JIANGUO, WANG_LI, "child", 1, "active", "2023-03-05"),
        _binding(LI_XIUYING, WANG_LI, "child", 2, "active", "2024-01-15"),
        _binding(WANG_JIANGUO, LI_XIUYING, "spouse", 1, "pending", "2026-10-20"),
        _binding(WANG_JIANGUO, WANG_JIANHUA, "sibling", 1, "revoked", "2022-06-01"),
        _binding(WANG_JIANHUA, OUYANG_MING, "parent", 1, "active", "2021-09-09"),
    ]
    transactions = [_transaction(*row) for row in TRANSACTIONS]
    return {"persons": persons, "bindings": bindings, "transactions": transactions}
