"""Compose what a verified caller hears: balance, 参保 status and 家庭共济 bindings."""

from __future__ import annotations

from functools import cache
from types import ModuleType

from stdnum import numdb

from ivr.core import reading_en, reading_zh
from ivr.core.model import Menu
from store.records import INVERSE_RELATION, BalanceData, BindingInfo, FamilyData, InsuredData

# Number, date and name readers by language (the part of the code before "-"); each module
# has the same functions: read_integer, read_money, read_count, read_ordinal, read_date, …
READERS: dict[str, ModuleType] = {"zh": reading_zh, "en": reading_en}


def reader(lang: str) -> ModuleType:
    """The reader module of a language code such as zh-CN or en-US."""
    return READERS[lang.split("-")[0]]


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


@cache
def region_pieces() -> tuple[str, ...]:
    """Audio pieces that cover every region name: provinces whole, counties by character."""
    provinces: set[str] = set()
    characters: set[str] = set()
    stack = list(numdb.get("cn/loc").prefixes)
    while stack:
        _length, _low, _high, props, children = stack.pop()
        provinces.update([props["province"]] if "province" in props else [])
        characters.update(props.get("county", "").split(",")[-1].split("]")[-1])
        stack.extend(children)
    return tuple(sorted(provinces)) + tuple(sorted(characters))


def balance_text(menu: Menu, lang: str, data: BalanceData) -> str:
    """The balance sentence: amount in words (元角分 in Mandarin) and the as-of date."""
    read = reader(lang)
    amount, as_of = read.read_money(data.balance_fen), read.read_date(data.as_of)
    return menu.text("balance", lang, amount=amount, as_of=as_of)


def social_text(menu: Menu, lang: str, data: InsuredData) -> str:
    """The 参保状态 sentence: status, scheme and insured region."""
    # The region database names places in Chinese only; other languages read the code.
    region = region_name(data.insured_region) if lang.startswith("zh") else None
    return menu.text(
        "social_status",
        lang,
        status=menu.word("insured_status", data.insured_status, lang),
        scheme=menu.word("scheme", data.scheme, lang),
        region=region or reader(lang).read_digits(data.insured_region),
    )


def hours_text(menu: Menu, lang: str, ranges: tuple[tuple[str, str], ...], always: bool) -> str:
    """The agent hours in words (八点三十分至十一点三十分、…), from HH:MM ranges."""
    if always:
        return menu.text("hours_all_day", lang)
    read = reader(lang)
    parts = [
        menu.text("hours_range", lang, start=read.read_clock(a), end=read.read_clock(b))
        for a, b in ranges
    ]
    separator = "、" if lang.startswith("zh") else ", "
    return separator.join(parts) or menu.text("hours_none", lang)


def family_text(menu: Menu, lang: str, data: FamilyData) -> str:
    """The 家庭共济 read-back for every role the caller has."""
    if not data.as_payer and not data.as_beneficiary:
        return menu.text("family_none", lang)
    parts = []
    if data.as_payer:
        parts.append(_payer_text(menu, lang, data.as_payer))
    if data.as_beneficiary:
        parts.append(_beneficiary_text(menu, lang, data.as_beneficiary))
    return join_sentences(lang, parts)


def join_sentences(lang: str, parts: list[str]) -> str:
    """Join sentences: Chinese needs no space between them, English does."""
    return ("" if lang.startswith("zh") else " ").join(parts)


def _payer_text(menu: Menu, lang: str, bindings: tuple[BindingInfo, ...]) -> str:
    """As 共济人: the count of active bindings, then each non-revoked one."""
    read = reader(lang)
    shown = sorted((b for b in bindings if b.status != "revoked"), key=lambda b: b.bound_on)
    active = sum(1 for b in shown if b.status == "active")
    parts = [menu.text("family_payer", lang, count=read.read_count(active))]
    for index, binding in enumerate(shown, start=1):
        parts.append(
            menu.text(
                "family_payer_item",
                lang,
                index=read.read_integer(index),
                relation=menu.word("relation", binding.relation, lang),
                name=read.mask_name(binding.other_name),
                status=menu.word("binding_status", binding.status, lang),
                date=read.read_date(binding.bound_on),
                rank=read.read_ordinal(binding.priority),
            )
        )
    revoked = len(bindings) - len(shown)
    if revoked:
        parts.append(menu.text("family_revoked", lang, count=read.read_count(revoked)))
    return join_sentences(lang, parts)


def _beneficiary_text(menu: Menu, lang: str, bindings: tuple[BindingInfo, ...]) -> str:
    """As 被共济人: own account first, then each payer by rank, then cash."""
    read = reader(lang)
    shown = sorted((b for b in bindings if b.status != "revoked"), key=lambda b: b.priority)
    parts = [menu.text("family_beneficiary", lang)]
    for binding in shown:
        parts.append(
            menu.text(
                "family_beneficiary_item",
                lang,
                rank=read.read_ordinal(binding.priority),
                relation=menu.word("relation", INVERSE_RELATION[binding.relation], lang),
                name=read.mask_name(binding.other_name),
                status=menu.word("binding_status", binding.status, lang),
            )
        )
    parts.append(menu.text("family_beneficiary_cash", lang))
    return join_sentences(lang, parts)
