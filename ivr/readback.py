"""Compose what a verified caller hears: balance, 参保 status and 家庭共济 bindings."""

from __future__ import annotations

from functools import cache

from stdnum import numdb

from ivr.domain import INVERSE_RELATION, BalanceData, BindingInfo, FamilyData, InsuredData
from ivr.menu import Menu
from ivr.speech import (
    mask_name,
    read_count,
    read_date,
    read_digits,
    read_integer,
    read_money,
    read_ordinal,
)


@cache
def region_name(code: str) -> str | None:
    """The province and county of a 6-digit region code, or None when unknown."""
    info: dict[str, str] = {}
    for _, props in numdb.get("cn/loc").info(code):
        info.update(props)
    county = info.get("county", "")
    # Historical entries look like "[1983-1989]旧名,[1990-]新名": speak the newest name.
    county = county.split(",")[-1].split("]")[-1]
    if not county or "province" not in info:
        return None
    return info["province"] + county


def balance_text(menu: Menu, data: BalanceData) -> str:
    """The balance sentence: amount in 元角分 words and the as-of date."""
    return menu.text("balance", amount=read_money(data.balance_fen), as_of=read_date(data.as_of))


def social_text(menu: Menu, data: InsuredData) -> str:
    """The 参保状态 sentence: status, scheme and insured region."""
    region = region_name(data.insured_region)
    return menu.text(
        "social_status",
        status=menu.word("insured_status", data.insured_status),
        scheme=menu.word("scheme", data.scheme),
        region=region or read_digits(data.insured_region),
    )


def family_text(menu: Menu, data: FamilyData) -> str:
    """The 家庭共济 read-back for every role the caller has."""
    if not data.as_payer and not data.as_beneficiary:
        return menu.text("family_none")
    parts = []
    if data.as_payer:
        parts.append(_payer_text(menu, data.as_payer))
    if data.as_beneficiary:
        parts.append(_beneficiary_text(menu, data.as_beneficiary))
    return "".join(parts)


def _payer_text(menu: Menu, bindings: tuple[BindingInfo, ...]) -> str:
    """As 共济人: the count of active bindings, then each non-revoked one."""
    shown = sorted((b for b in bindings if b.status != "revoked"), key=lambda b: b.bound_on)
    active = sum(1 for b in shown if b.status == "active")
    parts = [menu.text("family_payer", count=read_count(active))]
    for index, binding in enumerate(shown, start=1):
        parts.append(
            menu.text(
                "family_payer_item",
                index=read_integer(index),
                relation=menu.word("relation", binding.relation),
                name=mask_name(binding.other_name),
                status=menu.word("binding_status", binding.status),
                date=read_date(binding.bound_on),
                rank=_rank(binding.priority),
            )
        )
    revoked = len(bindings) - len(shown)
    if revoked:
        parts.append(menu.text("family_revoked", count=read_count(revoked)))
    return "".join(parts)


def _beneficiary_text(menu: Menu, bindings: tuple[BindingInfo, ...]) -> str:
    """As 被共济人: own account first, then each payer by rank, then cash."""
    shown = sorted((b for b in bindings if b.status != "revoked"), key=lambda b: b.priority)
    parts = [menu.text("family_beneficiary")]
    for binding in shown:
        parts.append(
            menu.text(
                "family_beneficiary_item",
                rank=_rank(binding.priority),
                relation=menu.word("relation", INVERSE_RELATION[binding.relation]),
                name=mask_name(binding.other_name),
                status=menu.word("binding_status", binding.status),
            )
        )
    parts.append(menu.text("family_beneficiary_cash"))
    return "".join(parts)


def _rank(priority: int) -> str:
    """The rank as an ordinal (第一, 第二, …); the prompt adds 顺位."""
    return read_ordinal(priority)
