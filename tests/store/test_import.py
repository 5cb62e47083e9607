"""The all-or-nothing account importer and the `import` / `demo-data` commands."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, inspect, select, update

from ivr.errors import IdentityError, ImportFileError
from store.city import city_id, city_person, write_city
from store.demo import (
    CHEN_GANG,
    LI_XIUYING,
    OUYANG_MING,
    WANG_JIANGUO,
    WANG_JIANHUA,
    WANG_LI,
    ZHANG_WEI,
    demo_data,
)
from store.id_numbers import validate_id_number
from store.import_apply import import_data, import_file
from store.import_ids import IdChecker
from store.import_read import ImportFile
from store.importer import ImportSummary, prepare
from store.models import Base, Binding, Person, Transaction
from store.pins import PinKeyring
from tests.servers import PIN_KEY

TODAY = date(2026, 11, 25)  # the `clock` fixture's day, so the CLI and prepare() agree
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
DROP = object()  # a change that removes the field


def with_check(first17: str) -> str:
    """An ID with its ISO 7064 MOD 11-2 check digit, so only the tested part is wrong."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def bad_check(first17: str) -> str:
    """An ID whose check digit is certainly wrong."""
    good = with_check(first17)
    return first17 + ("0" if good[-1] != "0" else "1")


NEW_ID = with_check("65010319980412031")  # persons[0] of the base file: new, valid
NEW2_ID = with_check("65010420010620052")  # persons[2] when a case adds a person
NOBODY_ID = with_check("65010519770707071")  # valid, but in no file and not on file
NEW_PIN = "482915"


def hasher(pin: str) -> str:
    """A cheap, deterministic stand-in for the hotline's PIN hash (the importer takes any)."""
    return "test$" + hmac.new(b"k", pin.encode(), "sha256").hexdigest()


# --- building import files ---------------------------------------------------------------


def demo_person(id_number: str, **changes: Any) -> dict[str, Any]:
    """A demo person's record as a re-import: same data, no PIN (the old hash stays)."""
    (record,) = [p for p in demo_data()["persons"] if p["id_number"] == id_number]
    record = {k: v for k, v in record.items() if k != "pin"}
    return apply_changes(record, changes)


def new_person(id_number: str, card: str, **changes: Any) -> dict[str, Any]:
    """A valid record of a person not on file (Urumqi, resident scheme)."""
    record = {
        "id_number": id_number, "card_number": card, "name": "赵敏", "pin": NEW_PIN,
        "insured_region": "650103", "scheme": "resident", "insured_status": "active",
        "balance": "88.80", "balance_as_of": "2026-11-01",
    }  # fmt: skip
    return apply_changes(record, changes)


def binding(payer: str, beneficiary: str, **changes: Any) -> dict[str, Any]:
    """A binding record, valid unless changed."""
    record = {
        "payer": payer, "beneficiary": beneficiary, "relation": "grandchild",
        "priority": 1, "status": "active", "bound_on": "2025-01-02",
    }  # fmt: skip
    return apply_changes(record, changes)


def apply_changes(record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The record with fields replaced, or removed where the change is DROP."""
    merged = {**record, **changes}
    return {k: v for k, v in merged.items() if v is not DROP}


def base_document() -> dict[str, Any]:
    """A valid file: a new person, a changed demo person and a new binding.

    Every rejection case adds or changes records after these, so the test can check that
    these valid records were not applied either.
    """
    return {
        "persons": [
            new_person(NEW_ID, "650100999"),
            demo_person(WANG_JIANGUO, balance="1.00"),
        ],
        "bindings": [binding(WANG_JIANGUO, NEW_ID)],
    }


Edit = Callable[[dict[str, Any]], None]


def add_person(record: dict[str, Any] | None = None, **changes: Any) -> Edit:
    """Append persons[2]: a second new, valid person unless changed."""
    record = record if record is not None else new_person(NEW2_ID, "650100998")

    def edit(doc: dict[str, Any]) -> None:
        doc["persons"].append(apply_changes(record, changes) if changes else record)

    return edit


def add_binding(**changes: Any) -> Edit:
    """Append bindings[1]: LI_XIUYING pays for the new person as second rank, unless changed."""

    def edit(doc: dict[str, Any]) -> None:
        record = binding(LI_XIUYING, NEW_ID, priority=2)
        doc["bindings"].append(apply_changes(record, changes))

    return edit


def both(*edits: Edit) -> Edit:
    """Several edits, in order."""

    def edit(doc: dict[str, Any]) -> None:
        for one in edits:
            one(doc)

    return edit


def document(*edits: Edit) -> dict[str, Any]:
    """The base file with the edits applied."""
    doc = base_document()
    for edit in edits:
        edit(doc)
    return doc


def id_numbers_in(doc: Any) -> set[str]:
    """Every ID-number-like value of a file (the full IDs that messages must not show)."""
    found: set[str] = set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("id_number", "payer", "beneficiary") and isinstance(value, str):
                found.add(value)
            found |= id_numbers_in(value)
    elif isinstance(doc, list):
        for value in doc:
            found |= id_numbers_in(value)
    return found


# --- running imports and looking at the database -------------------------------------------


def write(tmp_path: Path, doc: Any, name: str = "import.json") -> Path:
    """Write an import file (a JSON document, or raw text as is)."""
    path = tmp_path / name
    text = doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False, indent=1)
    path.write_text(text, encoding="utf-8")
    return path


def run_import(app: Flask, path: Path) -> ImportSummary:
    """Read, validate and apply an import file, as the `import` command does."""
    with app.extensions["ivr"].sessions() as session:
        return import_file(session, path, TODAY, hasher)


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    with app.extensions["ivr"].engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def person_row(app: Flask, id_number: str) -> Person | None:
    """A person as stored now."""
    with app.extensions["ivr"].sessions() as session:
        return session.scalars(select(Person).where(Person.id_number == id_number)).first()


def binding_row(app: Flask, payer: str, beneficiary: str) -> Binding | None:
    """A binding as stored now."""
    with app.extensions["ivr"].sessions() as session:
        payer_id = select(Person.id).where(Person.id_number == payer).scalar_subquery()
        beneficiary_id = select(Person.id).where(Person.id_number == beneficiary)
        return session.scalars(
            select(Binding).where(
                Binding.payer_id == payer_id,
                Binding.beneficiary_id == beneficiary_id.scalar_subquery(),
            )
        ).first()


def count(app: Flask, model: type[Base]) -> int:
    """How many rows a table has."""
    with app.extensions["ivr"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def squeeze(text: str) -> str:
    """Text without whitespace: the CLI's console wraps long lines."""
    return re.sub(r"\s+", "", text)


# --- rejections: the whole file, nothing changed -------------------------------------------

REJECTED = [
    # persons: the ID number
    ("bad check digit", add_person(id_number=bad_check("65010420010620052")),
     "persons[2]", "id_number"),
    ("birth date in the future", add_person(id_number=with_check("65010220270101001")),
     "persons[2]", "id_number"),
    ("age over 120", add_person(id_number=with_check("11010519000101001")),
     "persons[2]", "id_number"),
    ("15-digit ID", add_person(id_number="650102680312109"), "persons[2]", "id_number"),
    ("ID with a letter inside", add_person(id_number="6501042001062A0520"),
     "persons[2]", "id_number"),
    ("ID missing", add_person(id_number=DROP), "persons[2]", "id_number"),
    ("same ID twice in the file", add_person(id_number=NEW_ID), "persons[2]", "id_number"),
    # persons: the card number
    ("card number of 8 digits", add_person(card_number="65010099"), "persons[2]",
     "card_number"),
    ("card number of 10 digits", add_person(card_number="6501009988"), "persons[2]",
     "card_number"),
    ("card number with a letter", add_person(card_number="65010099A"), "persons[2]",
     "card_number"),
    ("card number as a JSON number", add_person(card_number=650100998), "persons[2]",
     "card_number"),
    ("same card twice in the file", add_person(card_number="650100999"), "persons[2]",
     "card_number"),
    ("card of another person on file", add_person(card_number="310100011"), "persons[2]",
     "card_number"),
    # persons: PIN, region, words
    ("PIN of 5 digits", add_person(pin="12345"), "persons[2]", "pin"),
    ("PIN of 7 digits", add_person(pin="1234567"), "persons[2]", "pin"),
    ("PIN with a letter", add_person(pin="12345a"), "persons[2]", "pin"),
    ("PIN as a JSON number", add_person(pin=123456), "persons[2]", "pin"),
    ("no PIN for a new person", add_person(pin=DROP), "persons[2]", "pin"),
    ("region of 5 digits", add_person(insured_region="65010"), "persons[2]", "insured_region"),
    ("region of 7 digits", add_person(insured_region="6501031"), "persons[2]",
     "insured_region"),
    ("unknown scheme", add_person(scheme="employees"), "persons[2]", "scheme"),
    ("unknown insured_status", add_person(insured_status="retired"), "persons[2]",
     "insured_status"),
    ("name missing", add_person(name=DROP), "persons[2]", "name"),
    ("name too long", add_person(name="王" * 65), "persons[2]", "name"),
    ("name with a NUL", add_person(name="赵\x00敏"), "persons[2]", "name"),
    ("name with an escape sequence", add_person(name="赵\x1b[2J敏"), "persons[2]", "name"),
    ("name with a line break", add_person(name="赵\n敏"), "persons[2]", "name"),
    ("name with DEL", add_person(name="赵敏\x7f"), "persons[2]", "name"),
    ("name with a right-to-left override", add_person(name="\u202e敏赵"), "persons[2]", "name"),
    ("name with a zero-width space", add_person(name="赵\u200b敏"), "persons[2]", "name"),
    ("name with a line separator", add_person(name="赵\u2028敏"), "persons[2]", "name"),
    ("person not an object", add_person(record=["not", "a", "person"]), "persons[2]", None),
    # persons: money and dates
    ("balance with 3 decimals", add_person(balance="1.234"), "persons[2]", "balance"),
    ("negative balance", add_person(balance="-1.00"), "persons[2]", "balance"),
    ("balance as a JSON float", add_person(balance=12.5), "persons[2]", "balance"),
    ("balance not a number", add_person(balance="abc"), "persons[2]", "balance"),
    ("balance with a comma", add_person(balance="1,000.00"), "persons[2]", "balance"),
    ("balance in exponent form", add_person(balance="1e3"), "persons[2]", "balance"),
    ("balance missing", add_person(balance=DROP), "persons[2]", "balance"),
    ("balance_as_of not a date", add_person(balance_as_of="2026-02-30"), "persons[2]",
     "balance_as_of"),
    ("balance_as_of in words", add_person(balance_as_of="yesterday"), "persons[2]",
     "balance_as_of"),
    ("balance_as_of in the future", add_person(balance_as_of="2026-11-26"), "persons[2]",
     "balance_as_of"),
    # bindings: single-record rules
    ("unknown relation", add_binding(relation="cousin"), "bindings[1]", "relation"),
    ("spouse's parent is not a close relative", add_binding(relation="parent_in_law"),
     "bindings[1]", "relation"),
    ("unknown binding status", add_binding(status="expired"), "bindings[1]", "status"),
    ("priority zero", add_binding(priority=0), "bindings[1]", "priority"),
    ("priority as text", add_binding(priority="2"), "bindings[1]", "priority"),
    ("priority as a float", add_binding(priority=2.5), "bindings[1]", "priority"),
    ("priority as a boolean", add_binding(priority=True), "bindings[1]", "priority"),
    ("bound_on not a date", add_binding(bound_on="05/03/2023"), "bindings[1]", "bound_on"),
    ("bound_on in the future", add_binding(bound_on="2026-11-26"), "bindings[1]", "bound_on"),
    ("payer with a bad check digit", add_binding(payer=bad_check(LI_XIUYING[:17])),
     "bindings[1]", "payer"),
    ("self-binding", add_binding(payer=LI_XIUYING, beneficiary=LI_XIUYING), "bindings[1]",
     "beneficiary"),
    ("same pair twice in the file", add_binding(payer=WANG_JIANGUO, priority=2), "bindings[1]",
     None),
    # bindings: rules across records and against the database
    ("beneficiary nowhere", add_binding(beneficiary=NOBODY_ID), "bindings[1]", "beneficiary"),
    ("payer nowhere", add_binding(payer=NOBODY_ID), "bindings[1]", "payer"),
    ("payer on file in the resident scheme", add_binding(payer=WANG_LI), "bindings[1]",
     "payer"),
    ("payer in the file in the resident scheme",
     both(add_person(), add_binding(payer=NEW2_ID)), "bindings[1]", "payer"),
    ("payer insured in another province", add_binding(payer=ZHANG_WEI), "bindings[1]",
     "insured_region"),
    # Chen Gang's ID starts with 65 like the payer's, but the file moves him to Shanghai.
    ("same ID province, different insured province",
     both(add_person(demo_person(CHEN_GANG, insured_region="310101", insured_status="active")),
          add_binding(beneficiary=CHEN_GANG)),
     "bindings[1]", "insured_region"),
    ("rank taken in the same file", add_binding(priority=1), "bindings[1]", "priority"),
    # digits must be ASCII: full-width ones could never be keyed on a phone
    ("full-width region", add_person(insured_region="６５０１０３"), "persons[2]",
     "insured_region"),
    ("full-width PIN", add_person(pin="１２３４５６"), "persons[2]", "pin"),
    ("full-width card number", add_person(card_number="６５０１００９９８"), "persons[2]",
     "card_number"),
    # a changed person must still fit the bindings already on file
    ("payer on file moved to the resident scheme",
     add_person(demo_person(LI_XIUYING, scheme="resident")), "persons[2]", "payer"),
    ("beneficiary on file moved to another province",
     add_person(demo_person(WANG_LI, insured_region="310101")), "persons[2]",
     "insured_region"),
    ("rank taken on file, not revoked", add_binding(payer=WANG_JIANHUA, beneficiary=WANG_LI),
     "bindings[1]", "priority"),
]  # fmt: skip


def rejected(app: Flask, tmp_path: Path, doc: dict[str, Any], record: str) -> str:
    """Import `doc`, which must be refused naming `record`, with every ID masked and nothing
    written; the message."""
    before = snapshot(app)
    with pytest.raises(ImportFileError) as caught:
        run_import(app, write(tmp_path, doc))
    message = str(caught.value)
    assert message.startswith(record), message
    assert not [n for n in id_numbers_in(doc) if n in message], message  # IDs masked
    assert snapshot(app) == before
    return message


@pytest.mark.parametrize(
    ("edit", "record", "field"),
    [pytest.param(edit, record, field, id=name) for name, edit, record, field in REJECTED],
)
def test_invalid_record_rejects_the_whole_file(
    app: Flask, tmp_path: Path, edit: Edit, record: str, field: str | None
) -> None:
    message = rejected(app, tmp_path, document(edit), record)
    if field is not None:
        assert f"{field}:" in message or f"{field} " in message, message
    assert person_row(app, NEW_ID) is None  # the valid new person before it: not added
    wang = person_row(app, WANG_JIANGUO)
    assert wang is not None and wang.balance_fen == 123456  # the valid update: not applied
    assert binding_row(app, WANG_JIANGUO, NEW_ID) is None


@pytest.mark.parametrize(("name", "where"), [
    ("赵\x00敏", "character 2 is U+0000 (control character)"),
    ("赵\x1f敏", "character 2 is U+001F (control character)"),
    ("赵\u202e敏", "character 2 is U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("\ufeff赵敏", "character 1 is U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
    ("赵\ud800敏", "character 2 is U+D800 (surrogate)"),  # only from memory: ijson makes it ?
])  # fmt: skip
def test_an_unprintable_name_is_named_in_one_line_on_every_backend(
    app: Flask, name: str, where: str
) -> None:
    """The same words on SQLite and PostgreSQL (which cannot store a NUL), before any write."""
    doc = document(add_person(name=name))
    before = snapshot(app)
    with pytest.raises(ImportFileError) as caught:
        with app.extensions["ivr"].sessions() as session:
            import_data(session, prepare(doc, TODAY, hasher))
    assert str(caught.value) == (
        f"persons[2] (ID {'*' * 14 + NEW2_ID[-4:]}): name: {where}, not printable:"
        " a name is 1 to 64 printable characters"
    )
    assert snapshot(app) == before


def test_the_rejection_cases_are_valid_without_their_fault(app: Flask, tmp_path: Path) -> None:
    """The base file with the default extra person and binding imports: each case above
    fails only because of what it changes."""
    summary = run_import(app, write(tmp_path, document(add_person(), add_binding())))
    assert summary == ImportSummary(2, 1, 2, 0)
    assert person_row(app, NEW2_ID) is not None
    assert person_row(app, WANG_JIANGUO).balance_fen == 100
    assert binding_row(app, LI_XIUYING, NEW_ID).priority == 2


DEEP = "[" * 100_000 + "]" * 100_000  # lists in lists, 100000 deep

FILE_REJECTED = [
    ("malformed JSON", '{"persons": [],\n "bindings": [,]}', ":2:15:"),
    ("truncated JSON", '{"persons": [\n', ":2:1:"),
    ("top level a list", "[]", "expected an object"),
    ("top level a string", '"persons"', "expected an object"),
    ("unknown top-level key", '{"persons": [], "accounts": []}', "expected an object"),
    ("persons not a list", '{"persons": {"a": 1}}', "`persons` must be a list"),
    ("bindings not a list", '{"bindings": "none"}', "`bindings` must be a list"),
    # Streamed: shapes json.loads never had to say no to, each a one-line error.
    ("persons null", '{"persons": null}', "`persons` must be a list"),
    ("a list twice", '{"persons": [], "persons": []}', "expected an object"),
    ("deeply nested top level", "[" * 100_000 + "]" * 100_000, "expected an object"),
    ("deeply nested record", '{"persons": [' + "[" * 100_000 + "]" * 100_000 + "]}",
     "persons[0]: nested deeper than"),
    ("deeply nested field", '{"bindings": [{"payer": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000
     + "}]}", "bindings[0]: nested deeper than"),
    ("unclosed deep nesting", '{"persons": [' + "[" * 100_000, "persons[0]: nested deeper"),
    ("deeply nested binding", '{"bindings": [' + DEEP + "]}", "bindings[0]: nested deeper"),
    ("deeply nested list in a field", '{"persons": [{"name": ' + DEEP + "}]}",
     "persons[0]: nested deeper than 32 levels"),
    ("deeply nested second record", '{"persons": [{}, ' + DEEP + "]}",
     "persons[1]: nested deeper than 32 levels"),
    ("deeply nested section", '{"persons": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}",
     "`persons` must be a list"),
    ("deeply nested unknown key", '{"accounts": ' + DEEP + "}", "expected an object"),
    ("deeply nested after the lists", '{"persons": []} ' + DEEP, "not valid JSON"),
    # Python makes no int of more than 4300 digits: ijson's C parser crashed on one.
    ("number of 5000 digits in a field", '{"persons": [{"balance": ' + "9" * 5_000 + "}]}",
     ":1:26: more than 4300 digits in a row"),
    ("number of 5000 digits alone", "9" * 5_000, ":1:1: more than 4300 digits in a row"),
    ("negative number of 5000 digits", '{"bindings": [\n{"priority": -' + "1" * 5_000 + "}]}",
     ":2:15: more than 4300 digits in a row"),
    ("decimal of 5000 digits", '{"persons": [{"balance": 0.' + "1" * 5_000 + "}]}",
     ":1:28: more than 4300 digits in a row"),
    ("trailing text", '{"persons": []} x', "not valid JSON"),
    ("empty file", "", ":1:1:"),
    ("syntax error after a multi-byte character", '{"persons": [{"name": "王"},\n ,]}', ":2:2:"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in FILE_REJECTED]
)
def test_unreadable_file_is_rejected_with_its_position(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ImportFileError) as caught:
        list(ImportFile(path))
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message
    assert "\n" not in message


CHUNK = 64 * 1024  # what ijson reads at a time


@pytest.mark.parametrize("start", [CHUNK - 4_301, CHUNK - 2_000, CHUNK - 1, CHUNK, CHUNK + 1])
@pytest.mark.parametrize("digits", [4_300, 4_301])
def test_a_run_of_digits_is_measured_across_reads(tmp_path: Path, start: int, digits: int) -> None:
    """The longest number Python converts is read; one digit more is refused where it starts,
    wherever the parser's reads cut it."""
    head = '{"persons": [{"name": "'
    head += "王" * 10 + "x" * (start - len(head.encode()) - 30 - len('", "balance": '))
    head += '", "balance": '
    assert len(head.encode()) == start
    path = write(tmp_path, head + "7" * digits + "}]}")
    if digits == 4_300:
        ((_section, _index, record),) = list(ImportFile(path))
        assert record["balance"] == int("7" * digits)
        return
    with pytest.raises(ImportFileError) as caught:
        list(ImportFile(path))
    column = len(head) + 1  # in characters: 王 is 3 bytes
    assert str(caught.value) == (f"{path}:1:{column}: more than 4300 digits in a row:"
                                 " no value of an import file is that long")  # fmt: skip


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(ImportFileError, match="cannot read") as caught:
        list(ImportFile(path))
    assert str(path) in str(caught.value)


# --- accepted edge cases of the binding rules ------------------------------------------------


ACCEPTED = [
    # Zhang Wei's ID is from Shanghai (31…) but the file insures him in Urumqi: the insured
    # regions match, so the binding is accepted.
    pytest.param(
        [demo_person(ZHANG_WEI, insured_region="650102")],
        binding(WANG_JIANGUO, ZHANG_WEI, relation="sibling"),
        id="ID provinces differ, insured provinces match",
    ),
    # Wang Jianhua's rank 1 is held by a revoked binding: it is free again.
    pytest.param(
        [],
        binding(LI_XIUYING, WANG_JIANHUA, relation="sibling"),
        id="rank held only by a revoked binding",
    ),
]


NAMES = [
    "王" * 64,  # the longest
    "阿卜杜拉·买买提",  # a middle dot
    "Zhang Wei",  # a space inside
    "𠀀𪚥",  # beyond the Basic Multilingual Plane (CJK extensions B)
    "王\ue000",  # private use: how many systems encode a rare character of a name
]


@pytest.mark.parametrize("name", NAMES)
def test_a_printable_name_is_stored_as_it_is_on_every_backend(
    app: Flask, tmp_path: Path, name: str
) -> None:
    run_import(app, write(tmp_path, {"persons": [demo_person(WANG_JIANGUO, name=name)]}))
    assert person_row(app, WANG_JIANGUO).name == name


@pytest.mark.parametrize(("persons", "record"), ACCEPTED)
def test_binding_edge_case_is_accepted(
    app: Flask, tmp_path: Path, persons: list[dict[str, Any]], record: dict[str, Any]
) -> None:
    summary = run_import(app, write(tmp_path, {"persons": persons, "bindings": [record]}))
    assert summary.bindings_added == 1
    stored = binding_row(app, record["payer"], record["beneficiary"])
    assert stored is not None
    assert (stored.priority, stored.status) == (record["priority"], record["status"])


# --- upserts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "column", "stored"),
    [
        pytest.param({"balance": "99.99"}, "balance_fen", 9999, id="balance"),
        pytest.param({"balance": "0"}, "balance_fen", 0, id="balance zero, no decimals"),
        pytest.param({"balance": "1234.5"}, "balance_fen", 123450, id="balance one decimal"),
        pytest.param({"balance_as_of": "2026-11-20"}, "balance_as_of", date(2026, 11, 20),
                     id="balance date"),
        pytest.param({"card_number": "650100990"}, "card_number", "650100990",
                     id="reissued card"),
        pytest.param({"insured_status": "suspended"}, "insured_status", "suspended",
                     id="insured status"),
        pytest.param({"name": "王建军"}, "name", "王建军", id="name"),
    ],
)  # fmt: skip
def test_reimported_person_is_updated_not_duplicated(
    app: Flask, tmp_path: Path, changes: dict[str, Any], column: str, stored: object
) -> None:
    persons_before = count(app, Person)
    others_before = [r for r in snapshot(app)["persons"] if WANG_JIANGUO not in r]

    summary = run_import(app, write(tmp_path, {"persons": [demo_person(WANG_JIANGUO, **changes)]}))

    assert summary == ImportSummary(0, 1, 0, 0)
    assert count(app, Person) == persons_before
    assert getattr(person_row(app, WANG_JIANGUO), column) == stored
    assert [r for r in snapshot(app)["persons"] if WANG_JIANGUO not in r] == others_before


@pytest.mark.parametrize(
    ("payer", "beneficiary", "changes"),
    [
        pytest.param(WANG_JIANGUO, LI_XIUYING, {"relation": "spouse", "status": "active"},
                     id="pending becomes active"),
        pytest.param(WANG_JIANGUO, WANG_LI, {"relation": "child", "status": "revoked"},
                     id="active becomes revoked"),
        pytest.param(WANG_JIANGUO, WANG_JIANHUA, {"relation": "sibling", "status": "active",
                                                  "bound_on": "2026-11-24"},
                     id="revoked becomes active again"),
        pytest.param(WANG_JIANHUA, OUYANG_MING,
                     {"relation": "parent", "priority": 3}, id="new rank"),
    ],
)  # fmt: skip
def test_reimported_binding_is_updated_not_duplicated(
    app: Flask, tmp_path: Path, payer: str, beneficiary: str, changes: dict[str, Any]
) -> None:
    bindings_before = count(app, Binding)
    record = binding(payer, beneficiary, **changes)

    summary = run_import(app, write(tmp_path, {"bindings": [record]}))

    assert summary == ImportSummary(0, 0, 0, 1)
    assert count(app, Binding) == bindings_before
    stored = binding_row(app, payer, beneficiary)
    assert (stored.relation, stored.priority, stored.status, stored.bound_on.isoformat()) == (
        record["relation"], record["priority"], record["status"], record["bound_on"]
    )  # fmt: skip


def test_ranks_of_one_beneficiary_can_be_swapped(app: Flask, tmp_path: Path) -> None:
    """Wang Li's payers trade places: the final ranks are unique, so the file is valid."""
    doc = {
        "bindings": [
            binding(WANG_JIANGUO, WANG_LI, relation="child", priority=2),
            binding(LI_XIUYING, WANG_LI, relation="child", priority=1),
        ]
    }
    summary = run_import(app, write(tmp_path, doc))
    assert summary == ImportSummary(0, 0, 0, 2)
    assert binding_row(app, WANG_JIANGUO, WANG_LI).priority == 2
    assert binding_row(app, LI_XIUYING, WANG_LI).priority == 1


def test_reimport_without_pin_keeps_the_pin_and_a_new_pin_replaces_it(
    app: Flask, tmp_path: Path
) -> None:
    old_hash = person_row(app, WANG_JIANGUO).pin_hash

    run_import(app, write(tmp_path, {"persons": [demo_person(WANG_JIANGUO, balance="5.00")]}))
    kept = person_row(app, WANG_JIANGUO)
    assert kept.balance_fen == 500
    assert kept.pin_hash == old_hash

    run_import(app, write(tmp_path, {"persons": [demo_person(WANG_JIANGUO, pin="703152")]}))
    changed = person_row(app, WANG_JIANGUO).pin_hash
    assert changed != old_hash
    assert changed == hasher("703152")  # what the import's hash function made of the PIN


# --- PIN storage -----------------------------------------------------------------------------


def all_rows_as_text(app: Flask) -> str:
    """Every value of every row of every table, as one text."""
    return "\n".join(
        " ".join(str(value) for value in row) for rows in snapshot(app).values() for row in rows
    )


def test_pins_are_stored_only_as_the_hash_functions_output(app: Flask, tmp_path: Path) -> None:
    pin = "864209"
    doc = {
        "persons": [
            new_person(NEW_ID, "650100999", pin=pin),
            new_person(NEW2_ID, "650100998", pin=pin, name="钱多多"),
        ]
    }
    # The PIN occurs nowhere else, so finding it in a row would be a leak.
    assert pin not in json.dumps(doc).replace(f'"{pin}"', "")
    assert pin not in all_rows_as_text(app)

    run_import(app, write(tmp_path, doc))

    first, second = (person_row(app, n).pin_hash for n in (NEW_ID, NEW2_ID))
    assert first == second == hasher(pin)  # the importer stores what it was given, no more
    dump = all_rows_as_text(app)
    assert NEW_ID in dump  # the dump does hold the imported rows
    assert pin not in dump


# --- the `import` command --------------------------------------------------------------------


def invoke(app: Flask, *args: str):
    """Run a CLI command of the app."""
    return app.test_cli_runner().invoke(args=list(args))


CLI_REJECTED = [
    ("bad card number", document(add_person(card_number="65010099")),
     ["persons[2]", "card_number"]),
    ("payer in the resident scheme", document(add_binding(payer=WANG_LI)),
     ["bindings[1]", "payer", "*" * 14 + WANG_LI[-4:]]),
    ("card of another person on file", document(add_person(card_number="310100011")),
     ["persons[2]", "card_number", "*" * 14 + ZHANG_WEI[-4:]]),
    ("binding to a person nowhere", document(add_binding(beneficiary=NOBODY_ID)),
     ["bindings[1]", "beneficiary", "*" * 14 + NOBODY_ID[-4:]]),
    ("bad check digit", document(add_person(id_number=bad_check(NEW2_ID[:17]))),
     ["persons[2]", "id_number"]),
    ("malformed JSON", '{"persons": [\n  {"id_number": }\n]}', ["import.json:2:17:"]),
    ("top level not an object", "[1, 2]", ["expected an object"]),
    # Values are echoed in messages; console markup in them must not break the report.
    ("markup in a value", document(add_person(scheme="[/bold]")), ["persons[2]", "scheme"]),
    # Beyond any BIGINT: the file must be rejected, not crash the database write.
    ("balance too large to store", document(add_person(balance="99999999999999999999.00")),
     ["persons[2]", "balance"]),
    # Any shape at any depth and size: one line, never a RecursionError or SystemError.
    ("nested 100000 deep", DEEP, ["expected an object"]),
    ("nested 100000 deep in persons", '{"persons": [' + DEEP + "]}",
     ["persons[0]: nested deeper than 32 levels"]),
    ("nested 100000 deep in a field", '{"persons": [{"name": ' + DEEP + "}]}",
     ["persons[0]: nested deeper than 32 levels"]),
    ("a number of 5000 digits", '{"persons": [{"balance": ' + "9" * 5_000 + "}]}",
     ["import.json:1:26: more than 4300 digits in a row"]),
    ("a NUL in a name", document(add_person(name="赵\x00敏")), ["persons[2]", "name:", "U+0000"]),
    ("an override in a name", document(add_person(name="赵\u202e敏")),
     ["persons[2]", "name:", "U+202E"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "expected"), [pytest.param(d, e, id=name) for name, d, e in CLI_REJECTED]
)
def test_import_command_rejects_a_bad_file(
    app: Flask, tmp_path: Path, doc: Any, expected: list[str]
) -> None:
    before = snapshot(app)

    result = invoke(app, "import", str(write(tmp_path, doc)))

    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    output = squeeze(result.output)
    assert "Importrejected" in output and "Nothingwaschanged" in output, result.output
    (rejected,) = [line for line in result.output.splitlines() if "Import rejected" in line]
    for fragment in expected:
        assert fragment in rejected, result.output  # on the one line
    assert not [n for n in id_numbers_in(doc) if n in output]  # IDs masked to the last 4
    assert snapshot(app) == before


def test_import_command_rejects_a_missing_file(app: Flask, tmp_path: Path) -> None:
    result = invoke(app, "import", str(tmp_path / "nowhere.json"))
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "nowhere.json" in squeeze(result.output)


def table_counts(output: str) -> dict[str, tuple[int, int]]:
    """The (added, updated) columns of the import command's summary table."""
    return {
        kind: (int(added), int(updated))
        for kind, added, updated in re.findall(
            r"(persons|bindings|transactions)\W+(\d+)\W+(\d+)", output
        )
    }


def test_import_command_applies_a_good_file(app: Flask, tmp_path: Path) -> None:
    doc = document()
    doc["bindings"].append(binding(WANG_JIANGUO, LI_XIUYING, relation="spouse"))

    result = invoke(app, "import", str(write(tmp_path, doc)))

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert table_counts(result.output) == {"persons": (1, 1), "bindings": (1, 1),
                                           "transactions": (0, 0)}  # fmt: skip
    assert person_row(app, NEW_ID) is not None
    assert person_row(app, WANG_JIANGUO).balance_fen == 100
    assert binding_row(app, WANG_JIANGUO, LI_XIUYING).status == "active"


def test_demo_data_file_imports_cleanly(make_app, tmp_path: Path) -> None:
    empty = make_app()
    path = tmp_path / "demo.json"

    written = invoke(empty, "demo-data", "-o", str(path))
    assert written.exit_code == 0, written.output
    assert json.loads(path.read_text("utf-8")) == demo_data()
    assert count(empty, Person) == 0  # writing the file loads nothing

    imported = invoke(empty, "import", str(path))
    assert imported.exit_code == 0, imported.output
    demo = demo_data()
    assert table_counts(imported.output) == {
        "persons": (len(demo["persons"]), 0),
        "bindings": (len(demo["bindings"]), 0),
        "transactions": (len(demo["transactions"]), 0),
    }
    assert count(empty, Person) == len(demo["persons"])
    assert count(empty, Binding) == len(demo["bindings"])
    assert count(empty, Transaction) == len(demo["transactions"])
    assert any(p.endswith("X") for p in (r[1] for r in snapshot(empty)["persons"]))


def test_demo_data_load_if_empty_loads_an_empty_database(make_app, tmp_path: Path) -> None:
    empty = make_app()
    result = invoke(empty, "demo-data", "-o", str(tmp_path / "demo.json"), "--load-if-empty")
    assert result.exit_code == 0, result.output
    assert count(empty, Person) == len(demo_data()["persons"])
    assert count(empty, Binding) == len(demo_data()["bindings"])
    assert count(empty, Transaction) == len(demo_data()["transactions"])


def test_demo_data_load_if_empty_leaves_a_loaded_database_alone(app: Flask, tmp_path: Path) -> None:
    with app.extensions["ivr"].sessions() as session:
        session.execute(
            update(Person).where(Person.id_number == WANG_JIANGUO).values(balance_fen=1)
        )
        session.commit()
    before = snapshot(app)

    result = invoke(app, "demo-data", "-o", str(tmp_path / "demo.json"), "--load-if-empty")

    assert result.exit_code == 0, result.output
    assert "alreadyhaspersons" in squeeze(result.output), result.output
    assert snapshot(app) == before  # the demo balance was not written back
    assert (tmp_path / "demo.json").exists()


def test_a_rejected_file_leaves_a_new_database_untouched(make_app, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    fresh = make_app(IVR_DATABASE_URL=url)
    result = invoke(fresh, "import", str(write(tmp_path, "[1, 2]")))
    assert result.exit_code != 0
    assert inspect(fresh.extensions["ivr"].engine).get_table_names() == []


# --- streaming and scale ---------------------------------------------------------------------

BIG = 70_000  # persons: more than PostgreSQL's 65,535 parameters of one statement


def counts(app: Flask) -> tuple[int, int]:
    """How many persons and bindings are on file."""
    return count(app, Person), count(app, Binding)


@pytest.mark.slow
def test_a_city_above_the_parameter_limit_imports_and_reimports(
    big_app: Flask, tmp_path: Path
) -> None:
    app = big_app
    before = counts(app)
    path = write_city(tmp_path / "city.json", BIG, per_person=1)

    assert run_import(app, path) == ImportSummary(BIG, 0, BIG // 4, 0, BIG, 0)
    assert counts(app) == (before[0] + BIG, before[1] + BIG // 4)
    last = city_person(BIG - 1)
    stored = person_row(app, last["id_number"])
    assert (stored.card_number, stored.pin_hash) == (last["card_number"], hasher(last["pin"]))

    # The same file again: every record is an update, nothing is added.
    assert run_import(app, path) == ImportSummary(0, BIG, 0, BIG // 4, 0, BIG)
    assert counts(app) == (before[0] + BIG, before[1] + BIG // 4)


BIG_REJECTED = [
    pytest.param(("persons", BIG - 10), {"balance": "1.234"}, f"persons[{BIG - 10}] (ID", "balance",
                 id="bad balance near the end"),
    pytest.param(("persons", BIG - 3), {"card_number": "100000007"}, f"persons[{BIG - 3}] (ID",
                 "card_number", id="card twice, near the end"),
    pytest.param(("bindings", BIG // 4 - 4), {"payer": city_id(BIG - 1)},
                 f"bindings[{BIG // 4 - 4}] (", "payer", id="resident payer near the end"),
    # The last binding takes the rank of the one before it (same beneficiary): it is at fault.
    pytest.param(("bindings", BIG // 4 - 1), {"priority": 1}, f"bindings[{BIG // 4 - 1}] (",
                 "priority", id="rank taken, near the end"),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("where", "change", "record", "field"), BIG_REJECTED)
def test_a_bad_record_near_the_end_of_a_big_file_changes_nothing(
    big_app: Flask, tmp_path: Path, where: tuple[str, int], change: dict, record: str, field: str
) -> None:
    app = big_app
    before = snapshot(app)
    path = write_city(tmp_path / "city.json", BIG, {where: change}, per_person=0)

    with pytest.raises(ImportFileError) as caught:
        run_import(app, path)

    message = str(caught.value)
    assert message.startswith(record) and f"{field}:" in message, message
    assert not re.search(r"[0-9]{17}[0-9X]", message), message  # IDs masked
    assert snapshot(app) == before


def test_a_bad_person_is_named_before_a_bad_binding_earlier_in_the_file(
    app: Flask, tmp_path: Path
) -> None:
    """The file's lists in either order: the persons' rules come first, as before."""
    doc = {
        "bindings": [binding(WANG_JIANGUO, NEW_ID, priority=0)],
        "persons": [new_person(NEW_ID, "650100999", balance="x")],
    }
    with pytest.raises(ImportFileError, match=r"^persons\[0\] .*balance:"):
        run_import(app, write(tmp_path, doc))


def test_import_command_shows_the_summary_of_a_city(app: Flask, tmp_path: Path) -> None:
    city = write_city(tmp_path / "city.json", 2_000)
    result = invoke(app, "import", str(city))
    assert result.exit_code == 0, result.output
    moves = len(json.loads(city.read_text(encoding="utf-8"))["transactions"])
    assert moves == 20_000  # ten a person
    assert table_counts(result.output) == {"persons": (2_000, 0), "bindings": (500, 0),
                                           "transactions": (moves, 0)}  # fmt: skip
    # The command hashes under the app's PIN key (the suite's key): salted, so verified.
    keys = PinKeyring((bytes.fromhex(PIN_KEY),))
    assert keys.verify(city_person(1_999)["pin"], person_row(app, city_id(1_999)).pin_hash)


# IDs the fast path must treat exactly as validate_id_number: a valid one of each region
# and birth year first (so the fast path knows them), then variations of each rule.
ID_CASES = [
    city_id(0), city_id(1), with_check("11010119991231123"), with_check("11010119991231124"),
    bad_check("11010119991231125"), with_check("11010119990231125"),  # 31 Feb
    with_check("11010120261126001"), with_check("11010120261125001"),  # tomorrow, today
    with_check("11010119061125001"), with_check("11010119061126001"),  # 120 years old, 119
    with_check("99010119800101001"), with_check("65010219680312109"),  # no region; region era
    "11010119991231123x", "1101011999123112", "110101199912311234X", "A10101199912311234",
]  # fmt: skip


def test_fast_id_checks_accept_and_reject_exactly_as_validate_id_number() -> None:
    checker = IdChecker(TODAY)
    for number in ID_CASES * 2:  # the second round runs on what the first one taught it
        try:
            expected = validate_id_number(number, TODAY)
        except IdentityError as exc:
            with pytest.raises(IdentityError) as caught:
                checker(number)
            assert (caught.value.problem, str(caught.value)) == (exc.problem, str(exc)), number
        else:
            assert checker(number) == expected, number
