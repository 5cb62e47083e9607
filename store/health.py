"""The health check's question to the database: would it take a webhook's write now?"""

from __future__ import annotations

from sqlalchemy import Engine, false, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from store.db import WRITE_WAIT_MS
from store.models import Call

WRITE_CHECK_MS = 1000  # well under a webhook's own wait, so a load balancer sees it first
_CALLS = Call.__table__
# Takes the calls table's write lock and needs a writable database, yet changes no row.
_NO_OP_WRITE = update(_CALLS).where(false()).values(seq=_CALLS.c.seq)
# SQLSTATEs: lock_not_available, query_canceled (timeout); read_only_sql_transaction.
_PG_BUSY, _PG_READ_ONLY = {"55P03", "57014"}, {"25006"}


def write_refused(engine: Engine) -> str | None:
    """None when the database takes a write within WRITE_CHECK_MS, else why not, briefly.

    Webhooks write on every step, so a database that answers reads but holds its write
    lock elsewhere (another process on SQLite, a migration's table lock on PostgreSQL) or
    is read-only (a replica) cannot serve calls. The check's transaction is rolled back.
    """
    try:
        with engine.connect().execution_options(**{WRITE_WAIT_MS: WRITE_CHECK_MS}) as connection:
            with connection.begin() as transaction:  # SQLite: BEGIN IMMEDIATE, 1 s at most
                if engine.dialect.name == "postgresql":
                    # SET LOCAL takes no bound parameters; the value is this module's constant.
                    connection.execute(text(f"SET LOCAL lock_timeout = {WRITE_CHECK_MS}"))
                    connection.execute(text(f"SET LOCAL statement_timeout = {WRITE_CHECK_MS}"))
                connection.execute(_NO_OP_WRITE)
                transaction.rollback()
    except DBAPIError as exc:
        return _reason(exc)
    except SQLAlchemyError:
        return "database unreachable"
    return None


def _reason(exc: DBAPIError) -> str:
    """A short, value-free reason for a refused write (never the driver's message)."""
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    said = str(exc.orig).lower()
    if state in _PG_BUSY or "locked" in said or "busy" in said:
        return f"database busy: no write lock within {WRITE_CHECK_MS} ms"
    if state in _PG_READ_ONLY or "readonly" in said:
        return "database read-only"
    return "database unreachable"
