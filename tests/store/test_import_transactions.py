"""The `transactions` of an import file (账户明细): every rule rejects the whole file, names
the record and changes nothing; a re-import replaces a movement by (holder, ref)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ivr.errors import ImportFileError
from store.city import city_id, write_city
from store.demo import (
    LI_XIUYING,
    OUYANG_MING,
    WANG_JIANGUO,
    WANG_JIANHUA,
    WANG_LI,
    ZHANG_WEI,
    demo_data,
)
from store.importer import ImportSummary
from store.models import Person, Transaction
from tests.store.test_import import (
    DROP,
    NEW2_ID,
    NEW_ID,
    NOBODY_ID,
    Edit,
    add_binding,
    add_person,
    apply_changes,
    bad_check,
    binding,
    both,
    count,
    document,
    person_row,
    rejected,
    run_import,
    snapshot,
    write,
)


def tx(holder: str, ref: str, **changes: Any) -> dict[str, Any]:
    """A movement record, valid unless changed (a pharmacy payment of 12.30 yuan)."""
    record = {"id_number": holder, "ref": ref, "date": "2026-11-20", "kind": "pharmacy",
              "amount": "12.30"}  # fmt: skip
    return apply_changes(record, changes)


def paid_for(holder: str, whom: str, ref: str, **changes: Any) -> dict[str, Any]:
    """A 家庭共济 payment of holder for beneficiary `whom`, valid unless changed."""
    return apply_changes(tx(holder, ref, kind="family_hospital", beneficiary=whom), changes)


def tx_document(*edits: Edit) -> dict[str, Any]:
    """The base file of tests/store/test_import.py with three valid movements: one of the
    file's new person, one of a person on file, and a family payment through the file's
    own binding (WANG_JIANGUO -> NEW_ID, bound 2025-01-02). Cases add transactions[3]."""
    doc = document()
    doc["transactions"] = [
        tx(NEW_ID, "N-1", kind="credit", amount="100"),
        tx(WANG_JIANGUO, "W-1"),
        paid_for(WANG_JIANGUO, NEW_ID, "W-2", date="2025-01-02"),
    ]
    for edit in edits:
        edit(doc)
    return doc


def add_tx(record: Any = None, **changes: Any) -> Edit:
    """Append transactions[3]: Zhang Wei's new pharmacy payment, unless changed."""

    def edit(doc: dict[str, Any]) -> None:
        base = tx(ZHANG_WEI, "Z-9") if record is None else record
        doc["transactions"].append(apply_changes(base, changes) if changes else base)

    return edit


def tx_row(app: Flask, holder: str, ref: str) -> Transaction | None:
    """A movement as stored now."""
    with app.extensions["ivr"].sessions() as session:
        holder_id = select(Person.id).where(Person.id_number == holder).scalar_subquery()
        query = select(Transaction).where(Transaction.person_id == holder_id,
                                          Transaction.ref == ref)  # fmt: skip
        return session.scalars(query).first()


def beneficiary_of(app: Flask, row: Transaction) -> str | None:
    """The ID number a stored movement paid for."""
    with app.extensions["ivr"].sessions() as session:
        person = session.get(Person, row.beneficiary_id) if row.beneficiary_id else None
        return person.id_number if person else None


REJECTED = [
    # the holder
    ("holder's ID with a bad check digit", add_tx(id_number=bad_check(ZHANG_WEI[:17])),
     "id_number"),
    ("holder missing", add_tx(id_number=DROP), "id_number"),
    ("holder nowhere", add_tx(id_number=NOBODY_ID), "id_number"),
    ("record not an object", add_tx(record=["not", "a", "movement"]), None),
    # the serial
    ("ref missing", add_tx(ref=DROP), "ref"),
    ("ref empty", add_tx(ref=""), "ref"),
    ("ref with a space", add_tx(ref="Z 9"), "ref"),
    ("ref with an underscore", add_tx(ref="Z_9"), "ref"),
    ("ref with a slash", add_tx(ref="Z/9"), "ref"),
    ("ref of 33 characters", add_tx(ref="A" * 33), "ref"),
    ("ref with full-width letters", add_tx(ref="Ｚ９"), "ref"),
    ("ref as a JSON number", add_tx(ref=9), "ref"),
    ("ref twice for one holder", add_tx(tx(WANG_JIANGUO, "W-1", amount="1.00")), "ref"),
    # the date
    ("date missing", add_tx(date=DROP), "date"),
    ("date not a date", add_tx(date="2026-02-30"), "date"),
    ("date in another format", add_tx(date="20/11/2026"), "date"),
    ("date in the future", add_tx(date="2026-11-26"), "date"),
    ("date before 2000", add_tx(date="1999-12-31"), "date"),
    # the kind
    ("kind missing", add_tx(kind=DROP), "kind"),
    ("unknown kind", add_tx(kind="transfer"), "kind"),
    ("kind in capitals", add_tx(kind="PHARMACY"), "kind"),
    # the amount
    ("amount missing", add_tx(amount=DROP), "amount"),
    ("amount zero", add_tx(amount="0"), "amount"),
    ("amount zero with decimals", add_tx(amount="0.00"), "amount"),
    ("amount negative", add_tx(amount="-12.30"), "amount"),
    ("amount with 3 decimals", add_tx(amount="12.305"), "amount"),
    ("amount as a JSON float", add_tx(amount=12.3), "amount"),
    ("amount in exponent form", add_tx(amount="1e3"), "amount"),
    ("amount with a comma", add_tx(amount="1,000.00"), "amount"),
    ("amount too large to store", add_tx(amount="99999999999999999999.00"), "amount"),
    # the beneficiary: required for family_*, refused otherwise
    ("family payment without a beneficiary",
     add_tx(paid_for(WANG_JIANGUO, WANG_LI, "W-9", beneficiary=DROP)), "beneficiary"),
    ("family contribution without a beneficiary",
     add_tx(tx(WANG_JIANGUO, "W-9", kind="family_contribution")), "beneficiary"),
    ("beneficiary on a credit", add_tx(kind="credit", beneficiary=WANG_LI), "beneficiary"),
    ("beneficiary on a refund", add_tx(kind="refund", beneficiary=WANG_LI), "beneficiary"),
    ("beneficiary with a bad check digit",
     add_tx(paid_for(WANG_JIANGUO, bad_check(WANG_LI[:17]), "W-9")), "beneficiary"),
    ("beneficiary is the holder", add_tx(paid_for(WANG_JIANGUO, WANG_JIANGUO, "W-9")),
     "beneficiary"),
    ("beneficiary nowhere", add_tx(paid_for(WANG_JIANGUO, NOBODY_ID, "W-9")), "beneficiary"),
    # the binding: payer = holder, beneficiary = beneficiary, bound_on <= date
    ("no binding between them", add_tx(paid_for(ZHANG_WEI, WANG_LI, "Z-9")), "beneficiary"),
    ("the binding the other way round", add_tx(paid_for(WANG_LI, WANG_JIANGUO, "L-9")),
     "beneficiary"),
    ("a binding of another payer of the same beneficiary",
     add_tx(paid_for(WANG_JIANHUA, WANG_LI, "H-9")), "beneficiary"),
    ("before the binding on file began",
     add_tx(paid_for(WANG_JIANGUO, WANG_LI, "W-9", date="2023-03-04")), "date"),
    ("before the binding in the file began",
     add_tx(paid_for(WANG_JIANGUO, NEW_ID, "W-9", date="2025-01-01")), "date"),
    ("before a binding new to the file began",
     both(add_person(), add_binding(beneficiary=NEW2_ID, priority=1, bound_on="2026-01-01"),
          add_tx(paid_for(LI_XIUYING, NEW2_ID, "X-9", date="2025-12-31"))), "date"),
    ("holder only in a rejected person of the file",
     both(add_person(name=DROP), add_tx(id_number=NEW2_ID)), "name"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "field"), [pytest.param(edit, field, id=name) for name, edit, field in REJECTED]
)
def test_a_bad_movement_rejects_the_whole_file(
    app: Flask, tmp_path: Path, edit: Edit, field: str | None
) -> None:
    record = "persons[2]" if field == "name" else "transactions[3]"
    # Nothing written (persons, bindings and movements), IDs masked.
    message = rejected(app, tmp_path, tx_document(edit), record)
    if field is not None:
        assert f"{field}:" in message, message
    assert "\n" not in message
    assert person_row(app, NEW_ID) is None  # the file's valid new person: not added
    assert person_row(app, WANG_JIANGUO).balance_fen == 123456  # the valid update: not made
    assert tx_row(app, WANG_JIANGUO, "W-1") is None  # the valid movements: not added


def test_the_movement_cases_are_valid_without_their_fault(app: Flask, tmp_path: Path) -> None:
    """The base file with the default extra movement imports: each case above fails only
    because of what it changes."""
    movements = count(app, Transaction)
    summary = run_import(app, write(tmp_path, tx_document(add_tx())))
    assert summary == ImportSummary(1, 1, 1, 0, 4, 0)
    assert count(app, Transaction) == movements + 4
    stored = tx_row(app, WANG_JIANGUO, "W-2")
    assert (stored.kind, stored.amount_fen, stored.booked_on) == (
        "family_hospital", 1230, date(2025, 1, 2)
    )  # fmt: skip
    assert beneficiary_of(app, stored) == NEW_ID
    assert tx_row(app, NEW_ID, "N-1").amount_fen == 10000


def test_a_rejected_movement_names_the_record_in_full(app: Flask, tmp_path: Path) -> None:
    doc = tx_document(add_tx(paid_for(WANG_JIANGUO, WANG_LI, "W-9", date="2023-03-04")))
    with pytest.raises(ImportFileError) as caught:
        run_import(app, write(tmp_path, doc))
    assert str(caught.value) == (
        "transactions[3] (ID **************109X): date: 2023-03-04 is before the binding"
        " **************109X -> **************1007 began (bound_on 2023-03-05)"
    )


ACCEPTED = [
    ("family use through a binding revoked since",
     paid_for(WANG_JIANGUO, WANG_JIANHUA, "R-1", date="2026-11-20"), "family_hospital", 1230),
    ("family use on the day the binding began",
     paid_for(WANG_JIANGUO, WANG_LI, "R-1", date="2023-03-05"), "family_hospital", 1230),
    ("family use through a lapsed binding (the beneficiary suspended)",
     paid_for(WANG_JIANHUA, OUYANG_MING, "R-1", kind="family_contribution", amount="380"),
     "family_contribution", 38000),
    ("the earliest date", tx(ZHANG_WEI, "R-1", date="2000-01-01"), "pharmacy", 1230),
    ("today", tx(ZHANG_WEI, "R-1", date="2026-11-25", kind="hospital"), "hospital", 1230),
    ("one fen", tx(ZHANG_WEI, "R-1", amount="0.01", kind="refund"), "refund", 1),
    ("one decimal", tx(ZHANG_WEI, "R-1", amount="7.5", kind="credit"), "credit", 750),
    ("a null beneficiary on a credit", tx(ZHANG_WEI, "R-1", kind="credit", beneficiary=None),
     "credit", 1230),
    ("a ref of 32 characters", tx(ZHANG_WEI, "aZ-09" * 6 + "Xy"), "pharmacy", 1230),
    ("a serial another holder has too", tx(ZHANG_WEI, "YB26111201649"), "pharmacy", 1230),
]  # fmt: skip


@pytest.mark.parametrize(
    ("record", "kind", "fen"), [pytest.param(r, k, f, id=name) for name, r, k, f in ACCEPTED]
)
def test_a_movement_edge_case_is_accepted(
    app: Flask, tmp_path: Path, record: dict[str, Any], kind: str, fen: int
) -> None:
    summary = run_import(app, write(tmp_path, {"transactions": [record]}))
    assert summary == ImportSummary(0, 0, 0, 0, 1, 0)
    stored = tx_row(app, record["id_number"], record["ref"])
    assert (stored.kind, stored.amount_fen, stored.booked_on.isoformat()) == (
        kind, fen, record["date"]
    )  # fmt: skip
    assert beneficiary_of(app, stored) == record.get("beneficiary")


def test_payments_under_a_bindings_earlier_term_survive_its_new_bound_on(
    app: Flask, tmp_path: Path
) -> None:
    """The revoked binding bound again later (a new bound_on) in the same file as a payment
    made under its first term: the file is valid, and so is the payment already on file."""
    rebound = binding(WANG_JIANGUO, WANG_JIANHUA, relation="sibling", bound_on="2026-11-24")
    earlier = paid_for(WANG_JIANGUO, WANG_JIANHUA, "R-1", date="2024-05-01")
    summary = run_import(app, write(tmp_path, {"bindings": [rebound], "transactions": [earlier]}))
    assert summary == ImportSummary(0, 0, 0, 1, 1, 0)
    assert tx_row(app, WANG_JIANGUO, "R-1").booked_on == date(2024, 5, 1)
    assert tx_row(app, WANG_JIANGUO, "YB25121000231") is not None  # the demo's, from 2025


@pytest.mark.parametrize(
    ("changes", "column", "stored"),
    [
        pytest.param({"amount": "99.99"}, "amount_fen", 9999, id="amount"),
        pytest.param({"date": "2026-11-02"}, "booked_on", date(2026, 11, 2), id="date"),
        pytest.param({"kind": "refund", "beneficiary": DROP}, "kind", "refund",
                     id="family payment becomes a refund"),
        pytest.param({"beneficiary": WANG_JIANHUA, "date": "2026-01-05"}, "beneficiary_id",
                     WANG_JIANHUA, id="another beneficiary"),
    ],
)  # fmt: skip
def test_a_reimported_movement_is_replaced_not_duplicated(
    app: Flask, tmp_path: Path, changes: dict[str, Any], column: str, stored: object
) -> None:
    movements = count(app, Transaction)
    others = [r for r in snapshot(app)["transactions"] if r[1] != "YB26111201649"]
    demo = paid_for(WANG_JIANGUO, WANG_LI, "YB26111201649", date="2026-11-12", amount="560.00")
    record = apply_changes(demo, changes)

    summary = run_import(app, write(tmp_path, {"transactions": [record]}))

    assert summary == ImportSummary(0, 0, 0, 0, 0, 1)
    assert count(app, Transaction) == movements
    row = tx_row(app, WANG_JIANGUO, "YB26111201649")
    value = beneficiary_of(app, row) if column == "beneficiary_id" else getattr(row, column)
    assert value == stored
    assert (row.beneficiary_id is None) == ("beneficiary" not in record)
    assert [r for r in snapshot(app)["transactions"] if r[1] != "YB26111201649"] == others


def test_the_demo_movements_reimport_as_updates_only(app: Flask, tmp_path: Path) -> None:
    before = snapshot(app)["transactions"]
    demo = demo_data()
    summary = run_import(app, write(tmp_path, {"transactions": demo["transactions"]}))
    assert summary == ImportSummary(0, 0, 0, 0, 0, len(demo["transactions"]))
    assert snapshot(app)["transactions"] == before


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param({"transactions": [tx(ZHANG_WEI, "Z-9", amount="0")],
                      "bindings": [binding(WANG_JIANGUO, NEW_ID, priority=0)]},
                     r"^bindings\[0\] .*priority:", id="a bad binding after the movements"),
        pytest.param({"transactions": [tx(ZHANG_WEI, "Z-9", amount="0")],
                      "persons": [{"id_number": NEW_ID}]},
                     r"^persons\[0\] .*name:", id="a bad person after the movements"),
        pytest.param({"transactions": [tx(ZHANG_WEI, "Z-9"), tx(ZHANG_WEI, "Z-9"),
                                       tx(ZHANG_WEI, "Z-8", kind="bonus")]},
                     r"^transactions\[2\] .*kind:", id="a bad field before a ref twice"),
    ],
)  # fmt: skip
def test_persons_then_bindings_then_movements_are_judged(
    app: Flask, tmp_path: Path, doc: dict[str, Any], expected: str
) -> None:
    """Wherever the file puts its lists: a record's own fields before the rules between
    records, and the sections in the order persons, bindings, transactions."""
    before = snapshot(app)
    with pytest.raises(ImportFileError, match=expected):
        run_import(app, write(tmp_path, doc))
    assert snapshot(app) == before


# --- a city's file -----------------------------------------------------------------------------

CITY = 5_000  # persons; 50,000 movements


@pytest.mark.slow
@pytest.mark.parametrize(
    ("where", "change", "field"),
    [
        pytest.param(CITY * 10 - 3, {"amount": "0"}, "amount", id="amount zero at the end"),
        pytest.param(CITY * 10 - 5, {"ref": "20261125-000000000-0", "id_number": city_id(0)},
                     "ref", id="the first person's first serial again, near the end"),
        pytest.param(CITY * 10 - 12, {"kind": "family_pharmacy", "beneficiary": city_id(0)},
                     "beneficiary", id="a family payment without a binding, near the end"),
    ],
)  # fmt: skip
def test_a_bad_movement_near_the_end_of_a_city_changes_nothing(
    app: Flask, tmp_path: Path, where: int, change: dict[str, Any], field: str
) -> None:
    before = snapshot(app)
    path = write_city(tmp_path / "city.json", CITY, {("transactions", where): change})

    with pytest.raises(ImportFileError) as caught:
        run_import(app, path)

    message = str(caught.value)
    assert message.startswith(f"transactions[{where}] (ID") and f"{field}:" in message, message
    assert not re.search(r"[0-9]{17}[0-9X]", message), message  # IDs masked
    assert snapshot(app) == before


@pytest.mark.slow
def test_a_city_with_movements_imports_and_reimports(big_app: Flask, tmp_path: Path) -> None:
    app = big_app
    movements = count(app, Transaction)
    path = write_city(tmp_path / "city.json", CITY)

    assert run_import(app, path) == ImportSummary(CITY, 0, CITY // 4, 0, CITY * 10, 0)
    assert count(app, Transaction) == movements + CITY * 10
    assert run_import(app, path) == ImportSummary(0, CITY, 0, CITY // 4, 0, CITY * 10)
    assert count(app, Transaction) == movements + CITY * 10
