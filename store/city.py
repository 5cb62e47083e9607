"""A synthetic city's import file, streamed to disk: the scale test of the importer.

Persons get valid 18-character IDs (GB 11643 check digits, about one in eleven ending
in X) and 9-digit card numbers; a quarter as many bindings meet every binding rule; each
person has TX_PER_PERSON movements of their account over the year before CITY_DAY, of
every kind (family_* ones by payers, for their beneficiary). Used by
benchmarks/import_city.py and the importer's tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

CITY_DAY = date(2026, 11, 25)  # the import's "today": every date in the file is before it
REGIONS = ("110101", "110102", "110105", "110106", "110108")  # Beijing districts
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_FIRST_BIRTH = date(1950, 1, 1)
_DAYS = 20_000  # birth dates from 1950 to 2004
_RELATIONS = ("child", "spouse", "parent", "sibling")
_STATUSES = ("active", "active", "pending", "revoked")
_BOUND_ON = "2024-01-02"  # every binding's: before every movement's date
TX_PER_PERSON = 10  # the capacity scale: ten movements a person
_OWN_KINDS = ("credit", "hospital", "pharmacy", "credit", "refund", "pharmacy", "credit",
              "hospital", "pharmacy", "credit")  # fmt: skip
_FAMILY_KINDS = {7: "family_hospital", 8: "family_pharmacy", 9: "family_contribution"}

Changes = dict[tuple[str, int], dict[str, Any]]


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of an ID's first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def city_id(i: int) -> str:
    """The ID number of the city's person i (distinct for i below 100 million)."""
    born = _FIRST_BIRTH + timedelta(days=i % _DAYS)
    first17 = f"{REGIONS[i // (_DAYS * 1000)]}{born:%Y%m%d}{i // _DAYS % 1000:03d}"
    return first17 + check_digit(first17)


def city_person(i: int) -> dict[str, Any]:
    """Person i: even ones in the employee scheme (they pay), odd ones resident."""
    return {
        "id_number": city_id(i), "card_number": f"{100_000_000 + i}", "name": f"市民{i}",
        "pin": f"{i * 7919 % 1_000_000:06d}", "insured_region": REGIONS[i % len(REGIONS)],
        "scheme": "employee" if i % 2 == 0 else "resident", "insured_status": "active",
        "balance": f"{i % 100_000}.{i % 100:02d}", "balance_as_of": "2026-11-01",
    }  # fmt: skip


def city_binding(j: int) -> dict[str, Any]:
    """Binding j: person 4j pays for 4j+1, or, for odd j, ranks second for 4j-3."""
    beneficiary, priority = (4 * j + 1, 1) if j % 2 == 0 else (4 * j - 3, 2)
    return {
        "payer": city_id(4 * j), "beneficiary": city_id(beneficiary),
        "relation": _RELATIONS[j % len(_RELATIONS)], "priority": priority,
        "status": _STATUSES[j // 2 % len(_STATUSES)], "bound_on": _BOUND_ON,
    }  # fmt: skip


def beneficiary_of(i: int, persons: int) -> int | None:
    """Whom person i pays for (binding i // 4 of a city of `persons`), or None."""
    j = i // 4
    if i % 4 or j >= persons // 4:
        return None
    return 4 * j + 1 if j % 2 == 0 else 4 * j - 3


def city_transaction(i: int, k: int, persons: int) -> dict[str, Any]:
    """Movement k of person i: the last three of a payer's pay for their beneficiary."""
    day = CITY_DAY - timedelta(days=(i * 7 + k * 37) % 360)
    record = {"id_number": city_id(i), "ref": f"{day:%Y%m%d}-{i:09d}-{k}",
              "date": day.isoformat(), "kind": _OWN_KINDS[k % len(_OWN_KINDS)],
              "amount": f"{(i * 13 + k * 101) % 5_000 + 1}.{(i + k) % 100:02d}"}  # fmt: skip
    beneficiary = beneficiary_of(i, persons)
    if beneficiary is not None and k % 10 in _FAMILY_KINDS:
        record.update(kind=_FAMILY_KINDS[k % 10], beneficiary=city_id(beneficiary))
    return record


def write_city(
    path: Path, persons: int, changes: Changes | None = None, per_person: int = TX_PER_PERSON
) -> Path:
    """Write a city of `persons` persons, persons // 4 bindings and `per_person` movements
    of each person's account; changes edit records.

    changes maps ("persons", "bindings" or "transactions", index) to fields to replace in
    that record; person i's movement k is transactions[i * per_person + k].
    """
    changes = changes or {}
    movements = (city_transaction(i, k, persons) for i in range(persons)
                 for k in range(per_person))  # fmt: skip
    with path.open("w", encoding="utf-8") as out:
        out.write('{"persons": [\n')
        _write_list(out, "persons", (city_person(i) for i in range(persons)), changes)
        out.write('],\n"bindings": [\n')
        _write_list(out, "bindings", (city_binding(j) for j in range(persons // 4)), changes)
        out.write('],\n"transactions": [\n')
        _write_list(out, "transactions", movements, changes)
        out.write("]}\n")
    return path


def _write_list(out: TextIO, section: str, records: Iterator[dict], changes: Changes) -> None:
    """Write records one a line, separated by commas."""
    for index, record in enumerate(records):
        if (section, index) in changes:
            record = {**record, **changes[section, index]}
        out.write(("," if index else "") + json.dumps(record, ensure_ascii=False) + "\n")
