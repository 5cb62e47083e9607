"""Staging tables of an import: validated records land here in batches, then SQL checks them.

PostgreSQL gets each batch by COPY, SQLite by executemany; no statement ever carries more
than one row's parameters, so no driver's parameter limit is reached at any size.
"""

from __future__ import annotations

from sqlalchemy import Connection

from store.import_tx import TransactionRecord
from store.importer import BindingRecord, PersonRecord

PERSONS, BINDINGS, TRANSACTIONS = "import_persons", "import_bindings", "import_transactions"
TABLES = (PERSONS, BINDINGS, TRANSACTIONS)
BATCH = 10_000
_COLUMNS = {
    PERSONS: ("idx", "id_number", "card_number", "name", "pin_hash", "insured_region", "scheme",
              "insured_status", "balance_fen", "balance_as_of"),
    BINDINGS: ("idx", "payer", "beneficiary", "relation", "priority", "status", "bound_on"),
    TRANSACTIONS: ("idx", "id_number", "ref", "booked_on", "kind", "amount_fen", "beneficiary"),
}  # fmt: skip
_DDL = {
    PERSONS: "idx INTEGER PRIMARY KEY, id_number VARCHAR(18) NOT NULL, "
    "card_number VARCHAR(9) NOT NULL, name VARCHAR(64) NOT NULL, pin_hash VARCHAR(256), "
    "insured_region VARCHAR(6) NOT NULL, scheme VARCHAR(16) NOT NULL, "
    "insured_status VARCHAR(16) NOT NULL, balance_fen BIGINT NOT NULL, "
    "balance_as_of DATE NOT NULL",
    # payer_id and beneficiary_id are filled in once the persons are written, and with them
    # was_bound_on: the bound_on on file before the import, if the binding was on file.
    BINDINGS: "idx INTEGER PRIMARY KEY, payer VARCHAR(18) NOT NULL, "
    "beneficiary VARCHAR(18) NOT NULL, relation VARCHAR(32) NOT NULL, "
    "priority INTEGER NOT NULL, status VARCHAR(16) NOT NULL, bound_on DATE NOT NULL, "
    "payer_id INTEGER, beneficiary_id INTEGER, was_bound_on DATE",
    # The persons' ids are joined in where needed: no UPDATE rewrites a city's movements.
    TRANSACTIONS: "idx INTEGER PRIMARY KEY, id_number VARCHAR(18) NOT NULL, "
    "ref VARCHAR(32) NOT NULL, booked_on DATE NOT NULL, kind VARCHAR(24) NOT NULL, "
    "amount_fen BIGINT NOT NULL, beneficiary VARCHAR(18)",
}


class Stager:
    """Writes validated records to the temporary staging tables, a batch at a time."""

    def __init__(self, connection: Connection) -> None:
        """Stage through this connection, inside its open transaction."""
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.rows: dict[str, list[tuple]] = {table: [] for table in TABLES}
        self.counts = dict.fromkeys(TABLES, 0)

    def create(self) -> None:
        """Create the staging tables; they vanish at commit or rollback."""
        if self.postgres:
            # The whole city goes through single statements: no 5 s limit for this job.
            self.connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        for table, columns in _DDL.items():
            drop = " ON COMMIT DROP" if self.postgres else ""
            self.connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {table} ({columns}){drop}")

    def add(self, index: int, record: PersonRecord | BindingRecord | TransactionRecord) -> None:
        """Stage one record; a full batch is written at once."""
        if isinstance(record, TransactionRecord):  # the most of a city's records
            table = TRANSACTIONS
            row = (index, record.id_number, record.ref, self._day(record.booked_on),
                   record.kind, record.amount_fen, record.beneficiary)  # fmt: skip
        elif isinstance(record, PersonRecord):
            table = PERSONS
            row = (index, record.id_number, record.card_number, record.name, record.pin_hash,
                   record.insured_region, record.scheme, record.insured_status,
                   record.balance_fen, self._day(record.balance_as_of))  # fmt: skip
        else:
            table = BINDINGS
            row = (index, record.payer, record.beneficiary, record.relation, record.priority,
                   record.status, self._day(record.bound_on))  # fmt: skip
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= BATCH:
            self._write(table)

    def _day(self, day):
        """A date as the driver takes it: SQLite stores ISO text, as SQLAlchemy does."""
        return day if self.postgres else day.isoformat()

    def finish(self) -> None:
        """Write what is left and index the staged records for the checks' joins."""
        for table in TABLES:
            self._write(table)
        run = self.connection.exec_driver_sql
        run(f"CREATE UNIQUE INDEX ix_{PERSONS} ON {PERSONS} (id_number)")
        # A serial twice for one holder is found through it (idx: the earlier one first).
        run(f"CREATE INDEX ix_{TRANSACTIONS} ON {TRANSACTIONS} (id_number, ref, idx)")
        self.analyze(PERSONS)
        self.analyze(TRANSACTIONS)

    def analyze(self, table: str) -> None:
        """Give PostgreSQL's planner a staged table's statistics (autovacuum skips them)."""
        if self.postgres:
            self.connection.exec_driver_sql(f"ANALYZE {table}")

    def _write(self, table: str) -> None:
        """Write one table's buffered rows."""
        rows = self.rows[table]
        if not rows:
            return
        columns = _COLUMNS[table]
        driver = self.connection.connection.driver_connection
        if self.postgres:
            with driver.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            driver.executemany(sql, rows)
        self.counts[table] += len(rows)
        rows.clear()

    def drop(self) -> None:
        """Drop the staging tables before commit (SQLite keeps temporary tables until closed)."""
        if not self.postgres:
            for table in TABLES:
                self.connection.exec_driver_sql(f"DROP TABLE temp.{table}")
