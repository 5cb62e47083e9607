"""The 账户明细 a caller hears: their own movements, and what their payers paid for them.

The window is the STATEMENT_MONTHS months up to today: a movement counts when
today minus 12 months < its date ≤ today (on 2026-11-25: 2025-11-26 to 2026-11-25; a
29 February goes back to 28 February). The caller's own movements come through the
(person_id, booked_on) index, the family payments made for them through the
(beneficiary_id, booked_on) one: two ranges, whatever the table's size.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    select,
    true,
    union_all,
)

from store.models import Binding, Person, Transaction
from store.records import (
    FAMILY_KINDS,
    STATEMENT_MAX,
    STATEMENT_MONTHS,
    StatementData,
    StatementEntry,
    TxKind,
)
from store.repo import Db

_TX, _PERSONS, _BINDINGS = Transaction.__table__, Person.__table__, Binding.__table__
_IN_WINDOW = and_(_TX.c.booked_on > bindparam("start"), _TX.c.booked_on <= bindparam("today"))
_COLUMNS = (_TX.c.booked_on, _TX.c.kind, _TX.c.amount_fen, _TX.c.ref, _TX.c.person_id)
# The caller's own movements (other: the relative a family_* one paid for, else NULL), and
# the family_* payments of others for the caller (other: the payer). Nothing else of a
# payer's account is read: a beneficiary never hears the payer's balance or other movements.
_OWN = select(*_COLUMNS, _TX.c.beneficiary_id.label("other_id"), false().label("covered")).where(
    _TX.c.person_id == bindparam("person"), _IN_WINDOW
)
_COVERED = select(*_COLUMNS, _TX.c.person_id.label("other_id"), true().label("covered")).where(
    _TX.c.beneficiary_id == bindparam("person"), _IN_WINDOW
)
_MOVES = union_all(_OWN, _COVERED).subquery("moves")
_OTHER = _PERSONS.alias("other")
# Newest first; on one day, the higher serial first, then the holder, so the order is total.
_STATEMENT = (
    select(_MOVES.c.booked_on, _MOVES.c.kind, _MOVES.c.amount_fen, _MOVES.c.covered,
           _OTHER.c.name, func.count(literal_column("1")).over().label("total"))
    .outerjoin(_OTHER, _OTHER.c.id == _MOVES.c.other_id)
    .order_by(_MOVES.c.booked_on.desc(), _MOVES.c.ref.desc(), _MOVES.c.person_id.desc())
    .limit(STATEMENT_MAX)
)  # fmt: skip
_FAMILY_YEAR = select(
    exists().where(_BINDINGS.c.payer_id == bindparam("person")).label("payer"),
    select(func.coalesce(func.sum(_TX.c.amount_fen), 0))
    .where(
        _TX.c.person_id == bindparam("person"),
        _TX.c.kind.in_(sorted(FAMILY_KINDS)),
        _TX.c.booked_on >= bindparam("year_start"),
        _TX.c.booked_on <= bindparam("today"),
    )
    .scalar_subquery()
    .label("spent"),
)


def window_start(today: date) -> date:
    """The day before the statement's first: today, STATEMENT_MONTHS months back."""
    months = today.year * 12 + today.month - 1 - STATEMENT_MONTHS
    year, month = divmod(months, 12)
    day = today.day
    while True:  # 29-31 may not exist in that month: the month's last day instead
        try:
            return date(year, month + 1, day)
        except ValueError:
            day -= 1


def statement(db: Db, person_id: int, today: date) -> StatementData:
    """The caller's 账户明细 over the STATEMENT_MONTHS months up to today, newest first.

    count: every movement in that window, the caller's own and those a payer made for them;
    entries: the newest STATEMENT_MAX of them; family_year_fen: the caller's own family_*
    payments from 1 January to today, when the caller is the payer of any binding (any
    status), else None.
    """
    connection = db if isinstance(db, Connection) else db.connection()
    params = {"person": person_id, "start": window_start(today), "today": today}
    rows = connection.execute(_STATEMENT, params).all()
    entries = tuple(
        StatementEntry(row.booked_on, TxKind(row.kind), row.amount_fen, row.name,
                       bool(row.covered))
        for row in rows
    )  # fmt: skip
    year = connection.execute(
        _FAMILY_YEAR, {"person": person_id, "year_start": date(today.year, 1, 1), "today": today}
    ).one()
    return StatementData(
        count=rows[0].total if rows else 0,
        entries=entries,
        family_year_fen=int(year.spent) if year.payer else None,
    )
