"""账户明细 through the simulator on the demo accounts: each role, paging, English, logging."""

from __future__ import annotations

from sqlalchemy import delete, select

from ivr.sim.caller import Caller
from store.demo import CHEN_GANG, LI_XIUYING, WANG_JIANGUO, WANG_JIANHUA, WANG_LI, ZHANG_WEI
from store.models import Person, Transaction

PINS = {WANG_JIANGUO: "135790", LI_XIUYING: "246810", WANG_LI: "112233",
        WANG_JIANHUA: "975310", ZHANG_WEI: "123456", CHEN_GANG: "654321"}  # fmt: skip
OPTIONS = "收听更早的明细请按一；重听请按星号键；返回上一级请按井号键。"


def statement(caller: Caller, id_number: str, english: bool = False) -> str:
    """Verify as the person, press 3 at 医疗保险服务; return the statement's first page."""
    caller.dial()
    if english:
        caller.press("9")
    caller.press("2")
    caller.press(id_number.replace("X", "*") + "#")
    caller.press(PINS[id_number] + "#")
    caller.press("3")
    return caller.heard[-2]  # the page; the paging keys follow it


def test_a_payer_hears_the_count_the_family_total_and_the_newest_five(caller: Caller) -> None:
    page = statement(caller, WANG_JIANGUO)
    # Twelve months up to 2026-11-25: eight movements; this year's family payments for 王丽
    # are 128.00 + 560.00 (the 860.00 of December 2025 is last year's).
    assert page == (
        "您的医保个人账户近十二个月共有八笔收支明细，从最近一笔读起。"
        "今年为家人共济支出共六百八十八元。"
        "十一月十九日，退费三十二元。"
        "十一月十二日，为家人王某支付医药费五百六十元。"
        "十一月六日，在定点医疗机构支付三百一十二元四角。"
        "十一月一日，个人账户划入二百四十五元三角。"
        "十月十八日，为家人王某在定点药店支付一百二十八元。"
    )
    assert caller.heard[-1] == OPTIONS


def test_paging_reads_older_entries_then_says_there_are_no_more(caller: Caller) -> None:
    statement(caller, WANG_JIANGUO)
    second = caller.press("1")
    # The revoked sibling binding still shows the family use it paid for, dated last year.
    assert second.startswith("十月九日，在定点药店支付八十六元五角。十月一日，个人账户划入")
    assert "二零二五年十二月十日，为家人王某支付医药费八百六十元。" in second
    assert "近十二个月" not in second and second.endswith(OPTIONS)
    assert caller.press("1").startswith("没有更早的明细了")
    assert caller.press("*") == second  # the same page again
    assert caller.press("#").startswith("个人账户余额查询请按一")  # back to 医疗保险服务


def test_a_beneficiary_hears_what_each_payer_covered_merged_by_date(caller: Caller) -> None:
    page = statement(caller, WANG_LI) + caller.press("1")
    assert page.startswith(
        "您的医保个人账户近十二个月共有六笔收支明细，从最近一笔读起。十一月十二日，"
    )
    assert "由共济人王某的账户支付医药费五百六十元" in page
    assert "十一月八日，由共济人李某的账户为您缴纳居民医保费四百元。" in page
    assert "十月二十五日，由共济人李某的账户在定点药店支付四十五元八角。" in page
    assert "十月二十二日，在定点药店支付十元。" in page and "十一月三日，退费二元零五分。" in page
    days = [
        "十一月十二日",
        "十一月八日",
        "十一月三日",
        "十月二十五日",
        "十月二十二日",
        "十月十八日",
    ]
    assert [page.index(day) for day in days] == sorted(page.index(day) for day in days)
    # Never the payers' own movements or balances, and no family total: she pays for no one.
    assert "二百四十五元三角" not in page and "一千二百三十四元" not in page
    assert "共济支出" not in page


def test_a_revoked_beneficiary_still_hears_the_payment_made_for_him(caller: Caller) -> None:
    page = statement(caller, WANG_JIANHUA)
    assert "今年为家人共济支出共四百元。" in page  # he pays for 欧阳明
    assert "为家人欧阳某缴纳居民医保费四百元" in page
    older = caller.press("1") if "二零二五年" not in page else page
    assert "二零二五年十二月十日，由共济人王某的账户支付医药费八百六十元。" in older


def test_a_caller_with_no_movements_hears_there_are_none(app, caller: Caller) -> None:
    with app.extensions["ivr"].sessions() as session:
        person = session.scalar(select(Person.id).where(Person.id_number == ZHANG_WEI))
        session.execute(delete(Transaction).where(Transaction.person_id == person))
        session.commit()
    assert statement(caller, ZHANG_WEI) == "您的医保个人账户近十二个月没有收支明细。"
    assert caller.press("1").startswith("没有更早的明细了")


def test_names_and_numbers_are_never_spoken_whole(make_caller) -> None:
    for id_number in (WANG_JIANGUO, WANG_LI, WANG_JIANHUA, LI_XIUYING):
        caller = make_caller()
        heard = statement(caller, id_number) + caller.press("1")
        for secret in ("王建国", "王丽", "王建华", "李秀英", "欧阳明", "YB2", id_number[:12]):
            assert secret not in heard, (id_number, secret)


def test_english_reads_the_same_content(caller: Caller) -> None:
    page = statement(caller, WANG_LI, english=True)
    assert page.startswith("Entries in your personal medical account in the last twelve months:"
                           " six. Newest first. On November twelfth, five hundred and sixty yuan"
                           " at a hospital, paid from the account of Wang.")  # fmt: skip
    assert ("On November eighth, four hundred yuan as your resident insurance contribution,"
            " paid from the account of Li.") in page  # fmt: skip
    assert caller.heard[-1].startswith("For earlier entries, press one.")


def test_the_call_log_shows_paging_keys_and_nothing_private(app, caller: Caller) -> None:
    statement(caller, WANG_LI)
    caller.press("1")
    caller.press("*")
    result = app.test_cli_runner().invoke(args=["calls", "show", caller.call_sid])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "statement" in line]
    assert len(lines) == 3 and "key 3" in result.output
    assert any("more" in line for line in lines) and any("repeat" in line for line in lines)
    for secret in (WANG_LI, "王丽", "王某", "五百六十元", "112233"):
        assert secret not in result.output
