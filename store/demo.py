"""The demo accounts: a Urumqi family with every kind of 家庭共济 binding, and a few others."""

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
    return {"persons": persons, "bindings": bindings}
