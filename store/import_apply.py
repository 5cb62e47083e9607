"""The second half of an import: cross-record rules against the database, then upserts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.errors import ImportFileError
from ivr.identity import mask_id
from store.db import create_schema
from store.importer import BindingRecord, ImportSummary, PersonRecord, PreparedImport
from store.models import Binding, Person

_PERSON_FIELDS = ("card_number", "name", "insured_region", "scheme", "insured_status",
                  "balance_fen", "balance_as_of")  # fmt: skip


def apply_persons(session: Session, records: Sequence[PersonRecord]) -> tuple[int, int]:
    """Upsert persons by id_number; return (added, updated)."""
    known = existing_people(session, (r.id_number for r in records))
    cards = {r.card_number for r in records}
    rows = session.execute(
        select(Person.card_number, Person.id_number).where(Person.card_number.in_(cards))
    ).all()
    holders = {card: id_number for card, id_number in rows}
    added = 0
    for index, record in enumerate(records):
        label = f"persons[{index}] (ID {mask_id(record.id_number)})"
        holder = holders.get(record.card_number)
        if holder is not None and holder != record.id_number:
            raise ImportFileError(
                f"{label}: card_number: already belongs to ID {mask_id(holder)} on file"
            )
        person = known.get(record.id_number)
        if person is None:
            if record.pin_hash is None:
                raise ImportFileError(f"{label}: pin: required for a person not yet on file")
            person = Person(id_number=record.id_number, pin_hash=record.pin_hash,
                            failed_pins=0, locked=False)  # fmt: skip
            session.add(person)
            known[record.id_number] = person
            added += 1
        elif record.pin_hash is not None:
            person.pin_hash = record.pin_hash
        for name in _PERSON_FIELDS:
            setattr(person, name, getattr(record, name))
    session.flush()
    return added, len(records) - added


def _check_binding(label: str, record: BindingRecord, people: dict[str, Person]) -> None:
    """The rules a binding must meet against the persons it names."""
    for role in ("payer", "beneficiary"):
        if getattr(record, role) not in people:
            number = mask_id(getattr(record, role))
            raise ImportFileError(f"{label}: {role}: no person {number} in the file or on file")
    try:
        _check_pair(people[record.payer], people[record.beneficiary])
    except ValueError as exc:
        raise ImportFileError(f"{label}: {exc}") from None


def _check_pair(payer: Person, beneficiary: Person) -> None:
    """The rules between a payer and a beneficiary; ValueError says which is broken."""
    if payer.scheme != "employee":
        raise ValueError("payer: must be in the employee scheme (职工医保)")
    if payer.insured_region[:2] != beneficiary.insured_region[:2]:
        raise ValueError(
            "both persons must be insured in the same province "
            f"(insured_region {payer.insured_region} vs {beneficiary.insured_region})"
        )


def apply_bindings(session: Session, records: Sequence[BindingRecord]) -> tuple[int, int]:
    """Upsert bindings by (payer, beneficiary); return (added, updated)."""
    people = existing_people(session, [n for r in records for n in (r.payer, r.beneficiary)])
    for index, record in enumerate(records):
        _check_binding(_label(index, record), record, people)
    current = {
        (b.payer_id, b.beneficiary_id): b
        for b in existing_bindings(session, (people[r.beneficiary].id for r in records))
    }
    _park_ranks(session, records, people, current)
    added = 0
    for record in records:
        key = (people[record.payer].id, people[record.beneficiary].id)
        binding = current.get(key)
        if binding is None:
            binding = Binding(payer_id=key[0], beneficiary_id=key[1])
            session.add(binding)
            current[key] = binding
            added += 1
        binding.relation, binding.priority = record.relation, record.priority
        binding.status, binding.bound_on = record.status, record.bound_on
    _check_ranks(records, people, current)
    session.flush()
    return added, len(records) - added


def _park_ranks(session, records, people, current: dict[tuple[int, int], Binding]) -> None:
    """Move the ranks the file rewrites out of the way before the real updates."""
    # Otherwise swapping two payers' ranks trips the unique index halfway through.
    for record in records:
        binding = current.get((people[record.payer].id, people[record.beneficiary].id))
        if binding is not None:
            binding.priority = -binding.id
    session.flush()


def _check_ranks(
    records: Sequence[BindingRecord],
    people: dict[str, Person],
    bindings: dict[tuple[int, int], Binding],
) -> None:
    """Each payer's rank is unique per beneficiary among bindings not revoked."""
    taken: dict[tuple[int, int], tuple[int, int]] = {}
    for key, binding in bindings.items():
        if binding.status == "revoked":
            continue
        slot = (key[1], binding.priority)
        if slot in taken:
            index = _record_index(records, people, key, taken[slot])
            raise ImportFileError(
                f"{_label(index, records[index])}: priority: rank {binding.priority} is already "
                "taken for this beneficiary by another binding that is not revoked"
            )
        taken[slot] = key


def _record_index(records, people, *keys: tuple[int, int]) -> int:
    """The index of the last file record among the clashing bindings."""
    found = [
        i for i, r in enumerate(records)
        if (people[r.payer].id, people[r.beneficiary].id) in keys
    ]  # fmt: skip
    return max(found)


def _label(index: int, record: BindingRecord) -> str:
    """How an error names a binding record."""
    return f"bindings[{index}] ({mask_id(record.payer)} -> {mask_id(record.beneficiary)})"


def apply(session: Session, prepared: PreparedImport) -> ImportSummary:
    """Upsert the prepared records; raise ImportFileError on any cross-record rule."""
    persons_added, persons_updated = apply_persons(session, prepared.persons)
    bindings_added, bindings_updated = apply_bindings(session, prepared.bindings)
    check_bindings_on_file(session, prepared.persons)
    return ImportSummary(persons_added, persons_updated, bindings_added, bindings_updated)


def check_bindings_on_file(session: Session, records: Sequence[PersonRecord]) -> None:
    """A changed person must still meet the rules of every binding they are in."""
    people = existing_people(session, (r.id_number for r in records))
    index_of = {r.id_number: i for i, r in enumerate(records)}
    ids = [p.id for p in people.values()]
    bindings = session.scalars(
        select(Binding).where(
            (Binding.payer_id.in_(ids) | Binding.beneficiary_id.in_(ids))
            & (Binding.status != "revoked")
        )
    ).all()
    for binding in bindings:
        # Of the two, the later record in the file is the one that broke the binding.
        parties = (binding.payer, binding.beneficiary)
        mover = max((p for p in parties if p.id_number in index_of),
                    key=lambda p: index_of[p.id_number])  # fmt: skip
        pair = f"{mask_id(binding.payer.id_number)} -> {mask_id(binding.beneficiary.id_number)}"
        label = f"persons[{index_of[mover.id_number]}] (ID {mask_id(mover.id_number)})"
        try:
            _check_pair(binding.payer, binding.beneficiary)
        except ValueError as exc:
            raise ImportFileError(f"{label}: breaks the binding {pair} on file: {exc}") from None


def import_data(session: Session, prepared: PreparedImport) -> ImportSummary:
    """Apply a prepared import in one transaction: everything, or nothing at all."""
    try:
        # Inside the transaction: a file rejected on a new database leaves no tables behind.
        create_schema(session.connection())
        summary = apply(session, prepared)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        # The driver's message may quote a full ID number (PostgreSQL's DETAIL): not shown.
        kind = type(exc.orig).__name__
        raise ImportFileError(
            f"the database refused the file ({kind}: a record clashes with one written "
            "at the same time); try again"
        ) from None
    except BaseException:
        session.rollback()
        raise
    return summary


def existing_people(session: Session, id_numbers: Iterable[str]) -> dict[str, Person]:
    """The persons already on file among these ID numbers."""
    wanted = list(set(id_numbers))
    rows = session.scalars(select(Person).where(Person.id_number.in_(wanted))).all()
    return {person.id_number: person for person in rows}


def existing_bindings(session: Session, beneficiary_ids: Iterable[int]) -> list[Binding]:
    """The bindings on file for these beneficiaries."""
    wanted = list(set(beneficiary_ids))
    return list(session.scalars(select(Binding).where(Binding.beneficiary_id.in_(wanted))).all())
