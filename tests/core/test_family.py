"""家庭共济 read-backs: payer, beneficiary, both roles, pending, revoked and lapsed bindings."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from ivr.sim.caller import Caller
from store.demo import (
    CHEN_GANG,
    LI_XIUYING,
    OUYANG_MING,
    WANG_JIANGUO,
    WANG_JIANHUA,
    WANG_LI,
)
from store.models import Person

PINS = {
    WANG_JIANGUO: "135790",
    LI_XIUYING: "246810",
    WANG_LI: "112233",
    WANG_JIANHUA: "975310",
    OUYANG_MING: "192837",
    CHEN_GANG: "654321",
}


def family(caller: Caller, id_number: str) -> str:
    """Verify as the person and press 2 for 家庭共济; return the read-back sentence(s)."""
    caller.dial()
    caller.press("2")
    caller.press(id_number.replace("X", "*") + "#")
    caller.press(PINS[id_number] + "#")
    caller.press("2")
    return caller.heard[-2]  # the read-back; the medical menu follows it


def test_payer_hears_count_relations_masked_names_status_and_dates(caller: Caller) -> None:
    heard = family(caller, WANG_JIANGUO)
    assert heard.startswith("您作为共济人，共有一个已生效的家庭共济绑定。")
    assert (
        "第一个，您的子女王某，已生效，绑定日期二零二三年三月五日，为其第一顺位扣款账户。" in heard
    )
    assert "第二个，您的配偶李某，待生效，暂不扣款，绑定日期二零二六年十月二十日" in heard
    assert heard.endswith("另有一个绑定已解除。")


def test_revoked_binding_is_never_read_as_active(caller: Caller) -> None:
    heard = family(caller, WANG_JIANGUO)
    assert "兄弟姐妹" not in heard  # the revoked sibling is only counted as revoked
    assert "王某，已生效" in heard and heard.count("已生效") == 2  # the count sentence + one


def test_beneficiary_hears_deduction_order_with_relation_from_her_side(caller: Caller) -> None:
    heard = family(caller, WANG_LI)
    assert heard == (
        "您作为被共济人，就医购药时先从您本人的个人账户扣款，"
        "然后是第一顺位，您的父母王某的个人账户，已生效；"
        "然后是第二顺位，您的父母李某的个人账户，已生效；"
        "账户余额不足的部分由您现金支付。"
    )


def test_both_roles_are_read_payer_first(caller: Caller) -> None:
    heard = family(caller, LI_XIUYING)
    payer_at = heard.index("您作为共济人，共有一个已生效的家庭共济绑定。")
    beneficiary_at = heard.index("您作为被共济人")
    assert payer_at < beneficiary_at
    assert (
        "第一个，您的子女王某，已生效，绑定日期二零二四年一月十五日，为其第二顺位扣款账户。"
        in heard
    )
    assert "然后是第一顺位，您的配偶王某的个人账户，待生效，暂不扣款；" in heard


def test_binding_lapses_when_a_party_is_not_actively_insured(caller: Caller) -> None:
    heard = family(caller, WANG_JIANHUA)
    assert heard.startswith("您作为共济人，共有零个已生效的家庭共济绑定。")
    assert "您的父母欧阳某，已失效" in heard  # a compound surname keeps both characters


def test_beneficiary_side_of_a_lapsed_binding(caller: Caller) -> None:
    heard = family(caller, OUYANG_MING)
    assert "然后是第一顺位，您的子女王某的个人账户，已失效；" in heard


def test_person_without_bindings(caller: Caller) -> None:
    assert family(caller, CHEN_GANG) == "您目前没有家庭共济绑定。"


def test_lapse_follows_the_callers_own_insured_status(app, caller: Caller) -> None:
    with app.extensions["ivr"].sessions() as session:
        session.execute(
            update(Person).where(Person.id_number == WANG_LI).values(insured_status="terminated")
        )
        session.commit()
    heard = family(caller, WANG_JIANGUO)
    assert "共有零个已生效" in heard and "您的子女王某，已失效" in heard


@pytest.mark.parametrize("id_number", [WANG_JIANGUO, LI_XIUYING, WANG_LI, WANG_JIANHUA])
def test_no_other_persons_balance_or_full_name_is_spoken(make_caller, id_number: str) -> None:
    caller = make_caller()
    family(caller, id_number)
    everything = caller.heard_text()
    for other in ("王建国", "李秀英", "王丽", "王建华", "欧阳明"):
        assert other not in everything
    own_balance_words = {"一千二百三十四元五角六分", "两千三百元", "十元零五分", "二十万元", "五角"}
    assert not any(words in everything for words in own_balance_words)  # family ≠ balance
