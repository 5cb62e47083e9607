"""The second half of an import: stage the records, check the cross-record rules, upsert.

Everything happens in one transaction, set-based: the records are staged in batches, the
rules are joins (store/import_checks.py), and the writes are INSERT … SELECT … ON CONFLICT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import import_checks, migrate
from store.db import create_schema
from store.errors import ImportFileError
from store.import_read import ImportFile
from store.import_stage import BINDINGS, PERSONS, TRANSACTIONS, Stager
from store.importer import SECTIONS, AnyRecord, HashPin, ImportSummary, PreparedImport, validate

# (what is being done, records read so far, bytes of the file read so far)
Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 5_000  # records between progress reports
_PERSON_VALUES = ("card_number", "name", "pin_hash", "insured_region", "scheme",
                  "insured_status", "balance_fen", "balance_as_of")  # fmt: skip
# A staged person without a PIN keeps the hash on file ('' stands for "no PIN": the
# column is NOT NULL, and check_persons made sure such a person is on file).
_NEW_PIN = "CASE WHEN excluded.pin_hash = '' THEN persons.pin_hash ELSE excluded.pin_hash END"
_UPSERT_PERSONS = f"""
INSERT INTO persons (id_number, {", ".join(_PERSON_VALUES)}, failed_pins, locked)
SELECT id_number, card_number, name, COALESCE(pin_hash, ''), insured_region, scheme,
       insured_status, balance_fen, balance_as_of, 0, false
FROM {PERSONS} WHERE true ORDER BY idx
ON CONFLICT (id_number) DO UPDATE SET
  {", ".join(f"{c} = excluded.{c}" for c in _PERSON_VALUES if c != "pin_hash")},
  pin_hash = {_NEW_PIN}
"""
# PostgreSQL writes a new row version even for an update that changes nothing: a re-import
# skips the persons it leaves as they are. (SQLite rewrites nothing it need not.)
_UNCHANGED = (
    f"WHERE ({', '.join(f'persons.{c}' for c in _PERSON_VALUES)}) IS DISTINCT FROM "
    f"({', '.join(_NEW_PIN if c == 'pin_hash' else f'excluded.{c}' for c in _PERSON_VALUES)})"
)
_RESOLVE_IDS = text(f"""
UPDATE {BINDINGS} SET
  payer_id = (SELECT id FROM persons WHERE persons.id_number = {BINDINGS}.payer),
  beneficiary_id = (SELECT id FROM persons WHERE persons.id_number = {BINDINGS}.beneficiary),
  was_bound_on = (SELECT k.bound_on FROM bindings k
                  JOIN persons p ON p.id = k.payer_id JOIN persons q ON q.id = k.beneficiary_id
                  WHERE p.id_number = {BINDINGS}.payer AND q.id_number = {BINDINGS}.beneficiary)
""")
_ON_FILE = "FROM {staged} s JOIN {table} t ON {join}"
# Otherwise swapping two payers' ranks would trip the unique index halfway through.
_PARK_RANKS = text(f"""
UPDATE bindings SET priority = -id
WHERE EXISTS (SELECT 1 FROM {BINDINGS} s
              WHERE s.payer_id = bindings.payer_id AND s.beneficiary_id = bindings.beneficiary_id)
""")
_UPSERT_BINDINGS = text(f"""
INSERT INTO bindings (payer_id, beneficiary_id, relation, priority, status, bound_on)
SELECT payer_id, beneficiary_id, relation, priority, status, bound_on
FROM {BINDINGS} WHERE true ORDER BY idx
ON CONFLICT (payer_id, beneficiary_id) DO UPDATE SET
  relation = excluded.relation, priority = excluded.priority,
  status = excluded.status, bound_on = excluded.bound_on
""")

_TX_VALUES = ("booked_on", "kind", "amount_fen", "beneficiary_id")
# The persons' ids are joined in here rather than written into the staged rows first. No
# ORDER BY: the rows are keyed by (holder, ref), and sorting a city's ten million costs.
_UPSERT_TRANSACTIONS = f"""
INSERT INTO transactions (person_id, ref, {", ".join(_TX_VALUES)})
SELECT h.id, s.ref, s.booked_on, s.kind, s.amount_fen, b.id
FROM {TRANSACTIONS} s
JOIN persons h ON h.id_number = s.id_number
LEFT JOIN persons b ON b.id_number = s.beneficiary
WHERE true
ON CONFLICT (person_id, ref) DO UPDATE SET
  {", ".join(f"{c} = excluded.{c}" for c in _TX_VALUES)}
"""
_TX_UNCHANGED = (
    f"WHERE ({', '.join(f'transactions.{c}' for c in _TX_VALUES)}) IS DISTINCT FROM "
    f"({', '.join(f'excluded.{c}' for c in _TX_VALUES)})"
)
_TX_ON_FILE = text(f"""
SELECT count(*) FROM {TRANSACTIONS} s
JOIN persons h ON h.id_number = s.id_number
JOIN transactions t ON t.person_id = h.id AND t.ref = s.ref
""")


def import_file(
    session: Session, path: Path, today: date, hash_pin: HashPin,
    on_progress: Progress | None = None,
) -> ImportSummary:  # fmt: skip
    """Stream an import file into the database: every record, or none at all.

    hash_pin turns a PIN into what persons.pin_hash stores; the caller chooses it.
    """
    source = ImportFile(path)
    records = validate(source, today, hash_pin)
    return _import(session, records, on_progress, lambda: source.bytes_read)


def import_data(session: Session, prepared: PreparedImport) -> ImportSummary:
    """Apply records validated (and PIN-hashed) by prepare() in one transaction."""
    records: list[tuple[str, int, AnyRecord]] = []
    for section in SECTIONS:
        records += [(section, i, r) for i, r in enumerate(getattr(prepared, section))]
    return _import(session, records, None, lambda: 0)


def _import(
    session: Session,
    records: Iterable[tuple[str, int, AnyRecord]],
    on_progress: Progress | None,
    bytes_read: Callable[[], int],
) -> ImportSummary:
    """Stage, check and write in one transaction; roll back on any error."""
    report = on_progress or (lambda _stage, _records, _bytes: None)
    try:
        connection = session.connection()
        _ensure_schema(connection)
        stager = Stager(connection)
        stager.create()
        count = 0
        for _section, index, record in records:
            stager.add(index, record)
            count += 1
            if count % PROGRESS_EVERY == 0:
                report("Reading", count, bytes_read())
        stager.finish()
        report("Checking and writing", count, bytes_read())
        summary = apply(connection, stager)
        stager.drop()
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


def _ensure_schema(connection: Connection) -> None:
    """Migrate inside the import's transaction, but only when the schema is not at head.

    Inside: a file rejected on a new database leaves no tables behind. Only when needed:
    migrating takes PostgreSQL's server-wide migration lock, which a city's import would
    otherwise hold for minutes against every other migrator (a revision read without the
    lock that says head is still right: migrations only move forward).
    """
    if MigrationContext.configure(connection).get_current_revision() != migrate.head():
        create_schema(connection)


def apply(connection: Connection, stager: Stager) -> ImportSummary:
    """Check the staged records against the database and upsert them, in rule order."""
    import_checks.check_persons(connection)
    persons_updated = _count_on_file(connection, PERSONS, "persons", "t.id_number = s.id_number")
    postgres = connection.dialect.name == "postgresql"
    connection.execute(text(_UPSERT_PERSONS + (_UNCHANGED if postgres else "")))
    connection.execute(_RESOLVE_IDS)
    connection.exec_driver_sql(
        f"CREATE INDEX ix_{BINDINGS} ON {BINDINGS} (payer_id, beneficiary_id)"
    )
    stager.analyze(BINDINGS)
    import_checks.check_bindings(connection)
    import_checks.check_ranks(connection)
    bindings_updated = _count_on_file(
        connection, BINDINGS, "bindings",
        "t.payer_id = s.payer_id AND t.beneficiary_id = s.beneficiary_id",
    )  # fmt: skip
    connection.execute(_PARK_RANKS)
    connection.execute(_UPSERT_BINDINGS)
    import_checks.check_bindings_on_file(connection)
    transactions_updated = _apply_transactions(connection, postgres)
    for table in ("persons", "bindings", "transactions"):
        # Else the hotline's first queries plan with the old statistics until autovacuum
        # comes: after a city, a statement took a parallel plan, 24 ms instead of 0.2 ms.
        stager.analyze(table)
    persons, bindings = stager.counts[PERSONS], stager.counts[BINDINGS]
    transactions = stager.counts[TRANSACTIONS]
    return ImportSummary(persons - persons_updated, persons_updated,
                         bindings - bindings_updated, bindings_updated,
                         transactions - transactions_updated, transactions_updated)  # fmt: skip


def _apply_transactions(connection: Connection, postgres: bool) -> int:
    """Check and upsert the staged movements (after the bindings); how many were on file."""
    import_checks.check_transactions(connection)
    updated = connection.execute(_TX_ON_FILE).scalar_one()
    connection.execute(text(_UPSERT_TRANSACTIONS + (_TX_UNCHANGED if postgres else "")))
    return updated


def _count_on_file(connection: Connection, staged: str, table: str, join: str) -> int:
    """How many staged records are already on file (they will be updates)."""
    sql = "SELECT count(*) " + _ON_FILE.format(staged=staged, table=table, join=join)
    return connection.exec_driver_sql(sql).scalar_one()
