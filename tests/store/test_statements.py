"""The 账户明细 query: a caller's own movements and what payers paid for them, newest first,
over the last 12 months, on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from store.demo import (
    CHEN_GANG,
    LI_XIUYING,
    OUYANG_MING,
    WANG_JIANGUO,
    WANG_JIANHUA,
    WANG_LI,
    ZHANG_WEI,
)
from store.models import Person
from store.records import STATEMENT_MAX, StatementData, StatementEntry, TxKind
from store.statements import statement, window_start
from tests.store.test_import import run_import, write
from tests.store.test_import_transactions import paid_for, tx

TODAY = date(2026, 11, 25)  # the clock fixture's day
C, H, P, R = TxKind.CREDIT, TxKind.HOSPITAL, TxKind.PHARMACY, TxKind.REFUND
FH, FP, FC = TxKind.FAMILY_HOSPITAL, TxKind.FAMILY_PHARMACY, TxKind.FAMILY_CONTRIBUTION


def entry(day: str, kind: TxKind, fen: int, other: str | None = None, covered: bool = False):
    """A statement line, written short."""
    return StatementEntry(date.fromisoformat(day), kind, fen, other, covered)


# Each demo account's statement on the clock's day, as the caller may hear it.
DEMO = {
    # A payer: a family payment through the binding revoked since (2025, so not in this
    # year's total), and two for Wang Li this year.
    WANG_JIANGUO: StatementData(8, (
        entry("2026-11-19", R, 3200), entry("2026-11-12", FH, 56000, "王丽"),
        entry("2026-11-06", H, 31240), entry("2026-11-01", C, 24530),
        entry("2026-10-18", FP, 12800, "王丽"), entry("2026-10-09", P, 8650),
        entry("2026-10-01", C, 24530), entry("2025-12-10", FH, 86000, "王建华"),
    ), family_year_fen=56000 + 12800),
    LI_XIUYING: StatementData(5, (
        entry("2026-11-15", P, 6620), entry("2026-11-08", FC, 40000, "王丽"),
        entry("2026-11-01", C, 19860), entry("2026-10-25", FP, 4580, "王丽"),
        entry("2026-10-01", C, 19860),
    ), family_year_fen=40000 + 4580),
    # A beneficiary of two payers: what each paid for her, merged by date with her own;
    # none of the payers' other movements.
    WANG_LI: StatementData(6, (
        entry("2026-11-12", FH, 56000, "王建国", True),
        entry("2026-11-08", FC, 40000, "李秀英", True), entry("2026-11-03", R, 205),
        entry("2026-10-25", FP, 4580, "李秀英", True), entry("2026-10-22", P, 1000),
        entry("2026-10-18", FP, 12800, "王建国", True),
    ), family_year_fen=None),
    # Payer of a lapsed binding, and beneficiary of the revoked one (its past use shows).
    WANG_JIANHUA: StatementData(6, (
        entry("2026-11-20", P, 7500), entry("2026-11-01", C, 125000),
        entry("2026-10-27", H, 236540), entry("2026-10-15", FC, 40000, "欧阳明"),
        entry("2026-10-01", C, 125000), entry("2025-12-10", FH, 86000, "王建国", True),
    ), family_year_fen=40000),
    OUYANG_MING: StatementData(2, (
        entry("2026-10-15", FC, 40000, "王建华", True), entry("2026-10-05", P, 1200),
    ), family_year_fen=None),
    ZHANG_WEI: StatementData(5, (
        entry("2026-11-10", P, 5890), entry("2026-11-01", C, 31215),
        entry("2026-10-29", R, 12000), entry("2026-10-12", H, 148000),
        entry("2026-10-01", C, 31215),
    ), family_year_fen=None),
    # A credit of 2025-10-01 is more than 12 months old: not counted, not listed.
    CHEN_GANG: StatementData(1, (entry("2026-10-08", P, 15600),), family_year_fen=None),
}  # fmt: skip


def person_id(app: Flask, id_number: str) -> int:
    """A person's row id."""
    with app.extensions["ivr"].sessions() as session:
        return session.scalar(select(Person.id).where(Person.id_number == id_number))


def statement_of(app: Flask, id_number: str, today: date = TODAY) -> StatementData:
    """The statement of a person on file, through a session as a request would read it."""
    who = person_id(app, id_number)
    with app.extensions["ivr"].sessions() as session:
        return statement(session, who, today)


def add(app: Flask, tmp_path: Path, *records: dict[str, Any]) -> None:
    """Import movements (through the importer, so every rule holds)."""
    run_import(app, write(tmp_path, {"transactions": list(records)}))


@pytest.mark.parametrize("who", [pytest.param(k, id=k[-4:]) for k in DEMO])
def test_each_demo_account_hears_its_own_statement(app: Flask, who: str) -> None:
    assert statement_of(app, who) == DEMO[who]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 25), date(2025, 11, 25)),
        (date(2026, 1, 1), date(2025, 1, 1)),
        (date(2026, 3, 31), date(2025, 3, 31)),
        (date(2028, 2, 29), date(2027, 2, 28)),  # no 29 February in 2027
        (date(2029, 2, 28), date(2028, 2, 28)),
    ],
)
def test_the_window_is_twelve_months_back_to_the_same_day(today: date, expected: date) -> None:
    assert window_start(today) == expected


def test_the_window_keeps_the_day_after_its_start_and_today(app: Flask, tmp_path: Path) -> None:
    """On 2026-11-10: 2025-11-10 is out, 2025-11-11 and 2026-11-10 are in, and a movement
    after that day (on file, imported later) is not heard yet."""
    days = ("2025-11-10", "2025-11-11", "2026-11-10", "2026-11-11")
    add(app, tmp_path, *(tx(CHEN_GANG, f"E-{i}", date=day) for i, day in enumerate(days)))
    heard = statement_of(app, CHEN_GANG, date(2026, 11, 10))
    assert [e.on.isoformat() for e in heard.entries] == ["2026-11-10", "2026-10-08", "2025-11-11"]
    assert heard.count == 3


def test_covered_entries_follow_the_same_window(app: Flask, tmp_path: Path) -> None:
    """Wang Jianguo's payment for Wang Jianhua of 2025-12-10 leaves the window on its
    first anniversary, for both of them."""
    for who, count in ((WANG_JIANHUA, 5), (WANG_JIANGUO, 7)):
        heard = statement_of(app, who, date(2026, 12, 10))
        assert heard.count == count
        assert date(2025, 12, 10) not in [e.on for e in heard.entries]
    assert statement_of(app, WANG_JIANHUA, date(2026, 12, 9)).entries[-1].covered


def test_at_most_twenty_entries_newest_first_and_all_counted(app: Flask, tmp_path: Path) -> None:
    """25 more movements for Zhang Wei, three of them on one day: the newest 20, one day's
    by serial, higher first; the count says all 30."""
    records = [tx(ZHANG_WEI, f"M-{n:02d}", date=f"2026-09-{n:02d}", amount=f"{n}.00")
               for n in range(1, 23)]  # fmt: skip
    records += [tx(ZHANG_WEI, ref, date="2026-11-24", amount=yuan)
                for ref, yuan in (("B", "2"), ("C", "3"), ("A", "1"))]  # fmt: skip
    add(app, tmp_path, *records)

    heard = statement_of(app, ZHANG_WEI)

    assert heard.count == 5 + 25
    assert len(heard.entries) == STATEMENT_MAX
    assert [e.on for e in heard.entries] == sorted((e.on for e in heard.entries), reverse=True)
    assert [e.amount_fen for e in heard.entries[:3]] == [300, 200, 100]  # C, B, A
    assert heard.entries[3] == DEMO[ZHANG_WEI].entries[0]
    # The oldest heard: the 20th newest, 2026-09-11; the 10 before it stay unheard.
    assert heard.entries[-1] == entry("2026-09-11", P, 1100)


def test_one_days_entries_keep_a_fixed_order_across_holders(app: Flask, tmp_path: Path) -> None:
    """Both payers pay for Wang Li on one day under the same serial: always the same order."""
    add(app, tmp_path, paid_for(WANG_JIANGUO, WANG_LI, "S-1", date="2026-11-24"),
        paid_for(LI_XIUYING, WANG_LI, "S-1", date="2026-11-24", amount="1.00"))  # fmt: skip
    first = statement_of(app, WANG_LI).entries[:2]
    assert {e.other_name for e in first} == {"王建国", "李秀英"}
    assert [statement_of(app, WANG_LI).entries[:2] for _ in range(3)] == [first] * 3


@pytest.mark.parametrize(
    ("who", "today", "expected"),
    [
        pytest.param(WANG_JIANGUO, date(2026, 11, 25), 68800, id="payer: this year's sum"),
        pytest.param(WANG_JIANGUO, date(2025, 12, 31), 86000, id="payer: last year's"),
        pytest.param(WANG_JIANGUO, date(2027, 1, 5), 0, id="payer: nothing yet this year"),
        pytest.param(WANG_JIANGUO, date(2026, 11, 11), 12800, id="payer: up to today"),
        pytest.param(WANG_JIANHUA, date(2026, 11, 25), 40000, id="payer of a lapsed binding"),
        pytest.param(WANG_LI, date(2026, 11, 25), None, id="beneficiary only: none"),
        pytest.param(ZHANG_WEI, date(2026, 11, 25), None, id="no binding: none"),
    ],
)
def test_this_years_family_total_is_only_a_payers(
    app: Flask, who: str, today: date, expected: int | None
) -> None:
    assert statement_of(app, who, today).family_year_fen == expected


def test_a_payer_of_a_revoked_binding_only_is_still_a_payer(app: Flask, tmp_path: Path) -> None:
    """Li Xiuying's binding revoked: she still hears her 家庭共济 total, 0 in a new year."""
    binding = {"payer": LI_XIUYING, "beneficiary": WANG_LI, "relation": "child", "priority": 2,
               "status": "revoked", "bound_on": "2024-01-15"}  # fmt: skip
    run_import(app, write(tmp_path, {"bindings": [binding]}))
    assert statement_of(app, LI_XIUYING, date(2027, 1, 2)).family_year_fen == 0


def test_a_person_with_no_movements_hears_an_empty_statement(app: Flask) -> None:
    assert statement_of(app, ZHANG_WEI, date(2026, 9, 30)) == StatementData(0, (), None)


@pytest.fixture
def statements_run(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs while the test is in its with-block."""
    seen: list[str] = []

    def count(_conn, _cursor, sql, *_args) -> None:
        """Note one statement."""
        seen.append(sql)

    engine = app.extensions["ivr"].engine
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_a_statement_is_two_queries(app: Flask, statements_run: list[str]) -> None:
    who = person_id(app, WANG_LI)
    with app.extensions["ivr"].engine.connect() as connection:
        statements_run.clear()
        heard = statement(connection, who, TODAY)
    assert heard == DEMO[WANG_LI]
    assert len(statements_run) == 2, statements_run
