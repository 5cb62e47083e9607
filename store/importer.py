"""The all-or-nothing account importer: validate every record, then upsert in one transaction."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from store.errors import ImportFileError
from store.id_numbers import mask_id
from store.import_fields import Record, parse_yuan
from store.import_tx import TransactionRecord, transaction
from store.records import BINDING_STATUSES, INSURED_STATUSES, RELATIONS, SCHEMES

SECTIONS = ("persons", "bindings", "transactions")  # also the order their errors are told in
_RANK = {section: rank for rank, section in enumerate(SECTIONS)}
HashPin = Callable[[str], str]  # PIN -> what persons.pin_hash stores; given by the caller
MAX_NAME = 64  # persons.name
# Characters a name may not hold: NUL cannot be stored in PostgreSQL, a surrogate in UTF-8,
# and controls, format characters (U+202E turns the text around) and line breaks would
# garble every listing and log that shows the name. Unassigned and private-use code points
# stay allowed: rare characters of names are often encoded there.
_UNPRINTABLE = {"Cc": "control character", "Cf": "format character", "Cs": "surrogate",
                "Zl": "line separator", "Zp": "paragraph separator"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A validated person from an import file; the PIN already hashed."""

    id_number: str
    card_number: str
    name: str
    pin_hash: str | None
    insured_region: str
    scheme: str
    insured_status: str
    balance_fen: int
    balance_as_of: date


@dataclass(frozen=True, slots=True)
class BindingRecord:
    """A validated 家庭共济 binding from an import file."""

    payer: str
    beneficiary: str
    relation: str
    priority: int
    status: str
    bound_on: date


@dataclass(frozen=True, slots=True)
class PreparedImport:
    """A whole import file, validated record by record, ready to apply."""

    persons: tuple[PersonRecord, ...]
    bindings: tuple[BindingRecord, ...]
    transactions: tuple[TransactionRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an applied import changed."""

    persons_added: int
    persons_updated: int
    bindings_added: int
    bindings_updated: int
    transactions_added: int = 0
    transactions_updated: int = 0


def _unprintable(name: str) -> str | None:
    """Why a name cannot be stored or shown (its first unprintable character), or None."""
    for position, char in enumerate(name, 1):
        kind = unicodedata.category(char)
        if kind in _UNPRINTABLE:
            label = unicodedata.name(char, "") or _UNPRINTABLE[kind]
            return (f"character {position} is U+{ord(char):04X} ({label}), not printable:"
                    f" a name is 1 to {MAX_NAME} printable characters")  # fmt: skip
    return None


def _person(index: int, raw: Any, today: date, hash_pin: HashPin) -> PersonRecord:
    """Validate one person (fields in a fixed order: the first bad one is named)."""
    rec = Record(f"persons[{index}]", raw)
    id_number = rec.id_number("id_number", today)
    rec.label = f"persons[{index}] (ID {mask_id(id_number)})"
    name = rec.text("name") or ""
    if len(name) > MAX_NAME:
        raise rec.fail("name", f"longer than {MAX_NAME} characters")
    if not name.isprintable() and (why := _unprintable(name)):
        raise rec.fail("name", why)
    try:
        balance_fen = parse_yuan(raw.get("balance"))
    except ValueError as exc:
        raise rec.fail("balance", str(exc)) from None
    fields = (rec.digits("card_number", 9) or "", name, rec.digits("insured_region", 6) or "",
              rec.choice("scheme", SCHEMES), rec.choice("insured_status", INSURED_STATUSES),
              balance_fen, rec.day("balance_as_of", today))  # fmt: skip
    pin = rec.digits("pin", 6, required=False)
    return PersonRecord(id_number, fields[0], fields[1], None if pin is None else hash_pin(pin),
                        *fields[2:])  # fmt: skip


def _binding(index: int, raw: Any, today: date) -> BindingRecord:
    """Validate one binding on its own (cross-record rules come at apply time)."""
    rec = Record(f"bindings[{index}]", raw)
    payer, beneficiary = rec.id_number("payer", today), rec.id_number("beneficiary", today)
    rec.label = f"bindings[{index}] ({mask_id(payer)} -> {mask_id(beneficiary)})"
    if payer == beneficiary:
        raise rec.fail("beneficiary", "a person cannot be bound to themselves")
    priority = raw.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 99:
        raise rec.fail("priority", "must be a whole number from 1 to 99")
    return BindingRecord(
        payer=payer,
        beneficiary=beneficiary,
        relation=rec.choice("relation", RELATIONS),
        priority=priority,
        status=rec.choice("status", BINDING_STATUSES),
        bound_on=rec.day("bound_on", today),
    )


def prepare(data: dict[str, Any], today: date, hash_pin: HashPin) -> PreparedImport:
    """Validate an import already in memory (the demo accounts); the first bad record fails."""
    items = [(key, i, raw) for key in SECTIONS for i, raw in enumerate(data.get(key, []))]
    found: dict[str, list] = {section: [] for section in SECTIONS}
    for section, _index, record in validate(items, today, hash_pin):
        found[section].append(record)
    return PreparedImport(*(tuple(found[section]) for section in SECTIONS))


AnyRecord = PersonRecord | BindingRecord | TransactionRecord


def validate(
    items: Iterable[tuple[str, int, Any]], today: date, hash_pin: HashPin
) -> Iterator[tuple[str, int, AnyRecord]]:
    """Validate raw records as they come, hashing PINs; raise at the first bad one.

    A bad person is reported before a bad binding, and a bad binding before a bad
    transaction, wherever the file puts its lists, as when the whole file was read first:
    an error of a later section waits for the end of the file.
    """
    seen_ids: set[str] = set()
    seen_cards: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    checks = {"bindings": lambda index, raw: _new_binding(index, raw, today, pairs),
              "transactions": lambda index, raw: transaction(index, raw, today)}  # fmt: skip
    waiting: ImportFileError | None = None
    # The waiting error's section: its records and a later section's need no checks now.
    waiting_rank = len(SECTIONS)
    for section, index, raw in items:
        if section == "persons":
            person = _person(index, raw, today, hash_pin)
            _unique_person(index, person, seen_ids, seen_cards)
            yield section, index, person
        elif _RANK[section] < waiting_rank:
            try:
                record = checks[section](index, raw)
            except ImportFileError as exc:
                waiting, waiting_rank = exc, _RANK[section]
                continue
            yield section, index, record
    if waiting is not None:
        raise waiting


def _new_binding(index: int, raw: Any, today: date, pairs: set[tuple[str, str]]) -> BindingRecord:
    """Validate one binding whose payer and beneficiary came in no earlier binding."""
    binding = _binding(index, raw, today)
    pair = (binding.payer, binding.beneficiary)
    if pair in pairs:
        raise ImportFileError(f"bindings[{index}]: this payer and beneficiary appear twice")
    pairs.add(pair)
    return binding


def _unique_person(index: int, person: PersonRecord, ids: set[str], cards: set[str]) -> None:
    """Refuse a person whose ID or card number came earlier in the file."""
    for key, value, seen in (("id_number", person.id_number, ids),
                             ("card_number", person.card_number, cards)):  # fmt: skip
        if value in seen:
            label = f"persons[{index}] (ID {mask_id(person.id_number)})"
            raise ImportFileError(f"{label}: {key}: appears twice in the file")
    ids.add(person.id_number)
    cards.add(person.card_number)
