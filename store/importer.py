"""The all-or-nothing account importer: validate every record, then upsert in one transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ivr.domain import BINDING_STATUSES, INSURED_STATUSES, RELATIONS, SCHEMES
from ivr.errors import IdentityError, ImportFileError
from ivr.identity import mask_id, validate_id_number

_DIGITS = {n: re.compile(rf"[0-9]{{{n}}}") for n in (6, 9)}  # ASCII: \d takes ６
_MONEY = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")  # below 1万亿 yuan: fits BIGINT 分, and is read


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class BindingRecord:
    """A validated 家庭共济 binding from an import file."""

    payer: str
    beneficiary: str
    relation: str
    priority: int
    status: str
    bound_on: date


@dataclass(frozen=True)
class PreparedImport:
    """A whole import file, validated record by record, ready to apply."""

    persons: tuple[PersonRecord, ...]
    bindings: tuple[BindingRecord, ...]


@dataclass(frozen=True)
class ImportSummary:
    """What an applied import changed."""

    persons_added: int
    persons_updated: int
    bindings_added: int
    bindings_updated: int


def read_import_file(path: Path) -> dict[str, Any]:
    """Read an import file as JSON, with the line and column of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"{path}: cannot read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from exc
    if not isinstance(data, dict) or set(data) - {"persons", "bindings"}:
        raise ImportFileError(f"{path}: expected an object with `persons` and `bindings` lists")
    for key in ("persons", "bindings"):
        if not isinstance(data.get(key, []), list):
            raise ImportFileError(f"{path}: `{key}` must be a list")
    return data


class _Record:
    """Field access for one raw record that names the record in every error."""

    def __init__(self, label: str, raw: Any) -> None:
        """Wrap one raw record, which must be a JSON object."""
        if not isinstance(raw, dict):
            raise ImportFileError(f"{label}: expected an object")
        self.label, self.raw = label, raw

    def fail(self, key: str, why: str) -> ImportFileError:
        """An error naming this record and field."""
        return ImportFileError(f"{self.label}: {key}: {why}")

    def text(self, key: str, *, required: bool = True) -> str | None:
        """A string field."""
        value = self.raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "missing or not a text")
        return value.strip()

    def digits(self, key: str, n: int, *, required: bool = True) -> str | None:
        """A string of exactly n digits."""
        value = self.text(key, required=required)
        if value is not None and not _DIGITS[n].fullmatch(value):
            raise self.fail(key, f"must be exactly {n} digits")
        return value

    def choice(self, key: str, allowed: Iterable[str]) -> str:
        """One of a fixed set of words."""
        value = self.text(key)
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not one of {', '.join(sorted(allowed))}")
        return value

    def day(self, key: str, today: date) -> date:
        """An ISO date, not in the future."""
        value = self.text(key) or ""
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise self.fail(key, f"{value!r} is not a date (YYYY-MM-DD)") from None
        if parsed > today:
            raise self.fail(key, f"{value} is in the future")
        return parsed

    def id_number(self, key: str, today: date) -> str:
        """A valid 18-character ID number."""
        try:
            return validate_id_number(self.text(key) or "", today)
        except IdentityError as exc:
            raise self.fail(key, f"invalid ID number: {exc}") from None


def parse_yuan(value: Any) -> int:
    """A yuan amount ("1234.56", at most 2 decimals, not negative) as integer 分."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('must be a text such as "1234.56" (a JSON number could be a float)')
    text = str(value).strip()
    if not _MONEY.fullmatch(text):
        raise ValueError(
            f"{text!r} is not an amount of yuan (at most 12 digits and 2 decimals, not negative)"
        )
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None


def _person(index: int, raw: Any, today: date) -> tuple[PersonRecord, str | None]:
    """Validate one person; return it with its raw PIN for hashing later."""
    rec = _Record(f"persons[{index}]", raw)
    id_number = rec.id_number("id_number", today)
    rec.label = f"persons[{index}] (ID {mask_id(id_number)})"
    name = rec.text("name") or ""
    if len(name) > 64:
        raise rec.fail("name", "longer than 64 characters")
    try:
        balance_fen = parse_yuan(raw.get("balance"))
    except ValueError as exc:
        raise rec.fail("balance", str(exc)) from None
    person = PersonRecord(
        id_number=id_number,
        card_number=rec.digits("card_number", 9) or "",
        name=name,
        pin_hash=None,
        insured_region=rec.digits("insured_region", 6) or "",
        scheme=rec.choice("scheme", SCHEMES),
        insured_status=rec.choice("insured_status", INSURED_STATUSES),
        balance_fen=balance_fen,
        balance_as_of=rec.day("balance_as_of", today),
    )
    return person, rec.digits("pin", 6, required=False)


def _binding(index: int, raw: Any, today: date) -> BindingRecord:
    """Validate one binding on its own (cross-record rules come at apply time)."""
    rec = _Record(f"bindings[{index}]", raw)
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


def prepare(
    data: dict[str, Any],
    today: date,
    on_hash: Callable[[], None] | None = None,
    *,
    hash_pin: Callable[[str], str],
) -> PreparedImport:
    """Validate every record (the first bad one rejects the file), then hash the PINs."""
    persons, pins, seen_ids, seen_cards = [], [], set(), set()
    for index, raw in enumerate(data.get("persons", [])):
        person, pin = _person(index, raw, today)
        label = f"persons[{index}] (ID {mask_id(person.id_number)})"
        if person.id_number in seen_ids:
            raise ImportFileError(f"{label}: id_number: appears twice in the file")
        if person.card_number in seen_cards:
            raise ImportFileError(f"{label}: card_number: appears twice in the file")
        seen_ids.add(person.id_number)
        seen_cards.add(person.card_number)
        persons.append(person)
        pins.append(pin)
    bindings, pairs = [], set()
    for index, raw in enumerate(data.get("bindings", [])):
        binding = _binding(index, raw, today)
        if (binding.payer, binding.beneficiary) in pairs:
            raise ImportFileError(f"bindings[{index}]: this payer and beneficiary appear twice")
        pairs.add((binding.payer, binding.beneficiary))
        bindings.append(binding)
    hashed = []
    for person, pin in zip(persons, pins, strict=True):
        hashed.append(_with_hash(person, pin, hash_pin))
        if on_hash is not None:
            on_hash()
    return PreparedImport(tuple(hashed), tuple(bindings))


def _with_hash(
    person: PersonRecord, pin: str | None, hash_pin: Callable[[str], str]
) -> PersonRecord:
    """The record with its PIN replaced by its keyed hash."""
    if pin is None:
        return person
    return PersonRecord(**{**person.__dict__, "pin_hash": hash_pin(pin)})
