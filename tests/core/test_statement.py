"""The 账户明细 read-back and its paging, stepped through the pure engine."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from ivr.core.engine import step
from ivr.core.events import CallState, Env, Fetch, Fetched, Gather, Keys, Say, Silence, Took
from ivr.core.model import SYSTEM_PROMPTS, Menu, Service
from ivr.core.statement import PAGE_SIZE, entry_prompt, page_count
from ivr.menu.load import load_menu
from store.records import (
    FAMILY_KINDS,
    STATEMENT_MAX,
    StatementData,
    StatementEntry,
    TxKind,
)

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 25)
ENV = Env(today=TODAY, agents_open=True, agent_hours_text={"zh-CN": "", "en-US": ""})
WANG_LI = StatementEntry(date(2026, 10, 20), TxKind.FAMILY_HOSPITAL, 10500, "王丽")


@pytest.fixture(scope="module", params=["12333.yaml", "12393.yaml"])
def menu(request) -> Menu:
    """Both shipped hotlines: each has the statement."""
    return load_menu(ROOT / "prompts" / request.param)


def verified(lang: str | None = None, page: int = 0) -> CallState:
    """A verified caller at the statement node."""
    return CallState(node="statement", verified=True, identified=True, person_id=7, lang=lang,
                     page=page)  # fmt: skip


def hear(menu: Menu, data: StatementData, state: CallState) -> tuple[CallState, list]:
    """Step the engine with the fetched statement; the state and what it did."""
    return step(menu, state, Fetched(data, ENV))


def text_of(actions: list) -> str:
    """The read-back: the one Say before the Gather."""
    said = [a for a in actions if isinstance(a, Say)]
    assert isinstance(actions[-1], Gather) and actions[-1].node == "statement"
    return said[0].text


def entries(n: int) -> tuple[StatementEntry, ...]:
    """n credits, newest first, a day apart, each of n+1 … 2 yuan so that each is told apart."""
    return tuple(
        StatementEntry(TODAY - timedelta(days=i), TxKind.CREDIT, 100 * (n + 1 - i))
        for i in range(n)
    )


def test_key_three_at_the_medical_menu_fetches_the_statement_once_verified(menu: Menu) -> None:
    parent = "medical" if "medical" in menu.nodes else "main"
    state = CallState(node=parent, menu=parent, verified=True, person_id=7, page=3)
    state, actions = step(menu, state, Keys("3", ENV))
    assert actions[-1] == Fetch(Service.STATEMENT, 7)
    assert state.node == "statement" and state.page == 0  # a new visit starts at the newest
    assert Took(parent, "key 3 -> statement") in actions


def test_an_unverified_caller_is_sent_to_the_identity_check_first(menu: Menu) -> None:
    parent = "medical" if "medical" in menu.nodes else "main"
    state = CallState(node=parent, menu=parent, person_id=None)
    state, actions = step(menu, state, Keys("3", ENV))
    assert state.node == "ask_id" and state.after_auth == "statement"
    assert not [a for a in actions if isinstance(a, Fetch)]


def tx(day: str, kind: TxKind, fen: int, name: str | None = None, covered: bool = False):
    """A statement entry on an ISO day."""
    return StatementEntry(date.fromisoformat(day), kind, fen, name, covered)


@pytest.mark.parametrize(
    ("entry", "zh"),
    [
        (tx("2026-11-01", TxKind.CREDIT, 32000), "十一月一日，个人账户划入三百二十元。"),
        (tx("2026-11-03", TxKind.PHARMACY, 2350), "十一月三日，在定点药店支付二十三元五角。"),
        (tx("2026-11-04", TxKind.HOSPITAL, 1005), "十一月四日，在定点医疗机构支付十元零五分。"),
        (tx("2026-11-05", TxKind.REFUND, 1), "十一月五日，退费一分。"),
        (WANG_LI, "十月二十日，为家人王某支付医药费一百零五元。"),
        (tx("2026-10-02", TxKind.FAMILY_PHARMACY, 990, "欧阳明"),
         "十月二日，为家人欧阳某在定点药店支付九元九角。"),
        (tx("2026-01-09", TxKind.FAMILY_CONTRIBUTION, 38000, "张伟"),
         "一月九日，为家人张某缴纳居民医保费三百八十元。"),
        (tx("2026-10-20", TxKind.FAMILY_HOSPITAL, 10500, "王建国", covered=True),
         "十月二十日，由共济人王某的账户支付医药费一百零五元。"),
        (tx("2026-10-21", TxKind.FAMILY_PHARMACY, 2000, "李秀英", covered=True),
         "十月二十一日，由共济人李某的账户在定点药店支付二十元。"),
        (tx("2026-03-01", TxKind.FAMILY_CONTRIBUTION, 38000, "王建国", covered=True),
         "三月一日，由共济人王某的账户为您缴纳居民医保费三百八十元。"),
        # Another year's entry says its year.
        (tx("2025-12-31", TxKind.CREDIT, 30000), "二零二五年十二月三十一日，个人账户划入三百元。"),
    ],
)  # fmt: skip
def test_each_kind_is_read_with_its_day_what_happened_and_the_amount(
    menu: Menu, entry: StatementEntry, zh: str
) -> None:
    _, actions = hear(menu, StatementData(1, (entry,)), verified())
    assert text_of(actions).endswith(zh)


@pytest.mark.parametrize(
    ("entry", "en"),
    [
        (WANG_LI,
         "On October twentieth, one hundred and five yuan for a relative, Wang, at a hospital."),
        (tx("2026-11-01", TxKind.CREDIT, 32050), "On November first, three hundred and twenty"
         " yuan and fifty fen credited to your account."),
        (tx("2025-03-05", TxKind.PHARMACY, 2350),
         "On March fifth, twenty twenty-five, twenty-three yuan and fifty fen at a pharmacy."),
        (tx("2026-10-20", TxKind.FAMILY_HOSPITAL, 10500, "欧阳明", covered=True),
         "On October twentieth, one hundred and five yuan at a hospital, paid from the account"
         " of Ouyang."),
    ],
)  # fmt: skip
def test_english_reads_the_same_content(menu: Menu, entry: StatementEntry, en: str) -> None:
    _, actions = hear(menu, StatementData(1, (entry,)), verified("en-US"))
    assert text_of(actions).endswith(en)


def test_the_header_counts_the_year_and_a_payer_hears_the_family_total(menu: Menu) -> None:
    data = StatementData(23, (WANG_LI,), family_year_fen=32050)
    _, actions = hear(menu, data, verified())
    assert text_of(actions).startswith(
        "您的医保个人账户近十二个月共有二十三笔收支明细，从最近一笔读起。"
        "今年为家人共济支出共三百二十元五角。十月二十日，"
    )


def test_a_payer_who_paid_nothing_this_year_hears_zero_and_others_hear_no_total(
    menu: Menu,
) -> None:
    _, paid_nothing = hear(menu, StatementData(2, entries(2), 0), verified())
    assert "今年为家人共济支出共零元。" in text_of(paid_nothing)
    _, no_payer = hear(menu, StatementData(2, entries(2)), verified())
    assert "共济" not in text_of(no_payer)


def test_a_caller_with_no_movements_hears_there_are_none(menu: Menu) -> None:
    _, actions = hear(menu, StatementData(0, ()), verified())
    assert text_of(actions) == "您的医保个人账户近十二个月没有收支明细。"
    state, more = hear(menu, StatementData(0, ()), verified(page=1))
    assert [a.text for a in more if isinstance(a, Say)][0] == menu.text("statement_end")
    assert state.page == 0


def test_names_are_masked_and_never_spoken_whole(menu: Menu) -> None:
    data = StatementData(2, (WANG_LI, StatementEntry(TODAY, TxKind.FAMILY_PHARMACY, 5, "欧阳明")))
    for lang in ("zh-CN", "en-US"):
        _, actions = hear(menu, data, verified(lang))
        said = " ".join(a.text for a in actions if isinstance(a, Say))
        assert "王丽" not in said and "欧阳明" not in said and "Ouyang Ming" not in said


def test_pages_of_five_newest_first_then_the_end(menu: Menu) -> None:
    data = StatementData(40, entries(STATEMENT_MAX))
    state, actions = hear(menu, data, verified())
    first = text_of(actions)
    assert (
        first.count("个人账户划入") == PAGE_SIZE and "二十一元" in first and "近十二个月" in first
    )
    heard = [first]
    for page in range(1, page_count(data)):
        state, actions = step(menu, state, Keys("1", ENV))
        assert Took("statement", "key 1 -> more") in actions
        assert actions[-1] == Fetch(Service.STATEMENT, 7) and state.page == page
        state, actions = hear(menu, data, state)
        heard.append(text_of(actions))
        assert "近十二个月" not in heard[-1]  # the header only on the first page
    assert "二元" in heard[-1] and len(heard) == STATEMENT_MAX // PAGE_SIZE
    state, _ = step(menu, state, Keys("1", ENV))
    state, actions = hear(menu, data, state)
    assert [a.text for a in actions if isinstance(a, Say)] == [menu.text("statement_end")]
    assert state.page == page_count(data) - 1 and isinstance(actions[-1], Gather)


def test_star_reads_the_same_page_again(menu: Menu) -> None:
    data = StatementData(12, entries(12))
    state, actions = hear(menu, data, verified(page=1))
    again, fetch = step(menu, state, Keys("*", ENV))
    assert fetch[-1] == Fetch(Service.STATEMENT, 7) and again.page == 1
    _, reread = hear(menu, data, again)
    assert text_of(reread) == text_of(actions)


def test_hash_goes_back_and_the_next_visit_starts_at_the_newest(menu: Menu) -> None:
    back = menu.nodes["statement"].options["#"]
    state, actions = step(menu, verified(page=2), Keys("#", ENV))
    assert state.node == back and isinstance(actions[-1], Gather)
    assert actions[-1].node == back


def test_the_statement_waits_like_a_menu_for_timeouts_and_wrong_keys(menu: Menu) -> None:
    state, actions = hear(menu, StatementData(1, (WANG_LI,)), verified())
    gather = actions[-1]
    assert (gather.num_digits, gather.finish_on_key) == (1, "")
    assert gather.prompts == (Say(menu.text("statement_options"), "zh-CN"),)
    state, silence = step(menu, state, Silence(ENV))
    assert Took("statement", "timeout") in silence and silence[-1] == gather
    state, wrong = step(menu, state, Keys("7", ENV))
    assert Took("statement", "invalid key") in wrong and wrong[-1] == gather


def test_every_entry_prompt_is_in_every_language_with_its_placeholders(menu: Menu) -> None:
    kinds = {(kind, covered) for kind in TxKind for covered in (False, True)
             if kind in FAMILY_KINDS or not covered}  # fmt: skip
    names = {
        entry_prompt(StatementEntry(TODAY, kind, 1, covered=covered)) for kind, covered in kinds
    }
    assert len(names) == len(kinds)  # one prompt for each kind, and each covered kind
    for kind, covered in kinds:
        name = entry_prompt(StatementEntry(TODAY, kind, 1, covered=covered))
        # The engine's own prompts: the menu check wants each in every language.
        fields = {"date", "amount", "name"} if kind in FAMILY_KINDS else {"date", "amount"}
        assert SYSTEM_PROMPTS[name] == fields
        for lang in menu.languages:
            text = menu.prompt(name, lang).text
            assert "{date}" in text and "{amount}" in text
            assert ("{name}" in text) == (kind in FAMILY_KINDS)
