"""The 账户明细 read-back, a page at a time: a header on the first page, then the entries."""

from __future__ import annotations

from datetime import date

from ivr.core.model import Menu
from ivr.core.readback import join_sentences, reader
from store.records import StatementData, StatementEntry

PAGE_SIZE = 5  # entries read per page; the store gives at most STATEMENT_MAX of them


def page_count(data: StatementData) -> int:
    """How many pages the statement's entries fill (none when there are no entries)."""
    return -(-len(data.entries) // PAGE_SIZE)


def entry_prompt(entry: StatementEntry) -> str:
    """The prompt that reads an entry: statement_<kind>, or statement_covered_<what> when a
    payer's account paid for the caller (each one of the model's SYSTEM_PROMPTS)."""
    if entry.covered:
        return "statement_covered_" + entry.kind.removeprefix("family_")
    return f"statement_{entry.kind}"


def statement_text(menu: Menu, lang: str, data: StatementData, page: int, today: date) -> str:
    """What one page says: the header on the first page, then that page's entries."""
    read = reader(lang)
    parts = _header(menu, lang, data) if page == 0 else []
    for entry in data.entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        name = read.mask_name(entry.other_name) if entry.other_name else ""
        amount, day = read.read_money(entry.amount_fen), read.read_day(entry.on, today)
        parts.append(menu.text(entry_prompt(entry), lang, date=day, amount=amount, name=name))
    return join_sentences(lang, parts)


def _header(menu: Menu, lang: str, data: StatementData) -> list[str]:
    """The count of movements in the last twelve months, and a payer's family total."""
    read = reader(lang)
    if data.count == 0:
        parts = [menu.text("statement_none", lang)]
    else:
        parts = [menu.text("statement_header", lang, count=read.read_count(data.count))]
    if data.family_year_fen is not None:
        amount = read.read_money(data.family_year_fen)
        parts.append(menu.text("statement_family_total", lang, amount=amount))
    return parts
