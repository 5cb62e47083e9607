"""Database engine and per-request sessions, built by the app (never at import time)."""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    create_engine,
    event,
    func,
    make_url,
    select,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store import migrate
from store.models import Person

# Every wait is bounded well inside Twilio's 15 s, so a caller stuck behind a locked or
# vanished database hears the busy message instead of Twilio's own application error.
SQLITE_BUSY_SECONDS = 5
PG_CONNECT_SECONDS = 3
PG_STATEMENT_MS = 5000
PG_LOCK_MS = 3000
READ_ONLY = "ivr_read_only"  # execution option: this connection never writes (health checks)


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine with pre-ping pooling, bounded waits and serialised SQLite writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and "timeout" not in parsed.query:
        options.setdefault("connect_args", {"timeout": SQLITE_BUSY_SECONDS})
    elif parsed.get_driver_name() in ("psycopg", "psycopg2"):
        parsed = _with_pg_limits(parsed)
    # hide_parameters: an error message must never carry an ID number or a PIN hash.
    engine = create_engine(parsed, pool_pre_ping=True, hide_parameters=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _with_pg_limits(url: URL) -> URL:
    """Add libpq's connect, statement and lock timeouts; the URL's own settings win."""
    limits = f"-c statement_timeout={PG_STATEMENT_MS} -c lock_timeout={PG_LOCK_MS}"
    extra = url.query.get("options", ())
    extra = [extra] if isinstance(extra, str) else list(extra)
    query = {"options": " ".join([limits, *extra])}  # later -c settings override earlier
    if "connect_timeout" not in url.query:
        query["connect_timeout"] = str(PG_CONNECT_SECONDS)
    return url.update_query_dict(query)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Turn on foreign keys, and leave BEGIN to us instead of the sqlite3 module."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # The sqlite3 module would only BEGIN at the first write, so a read-check-write (the
    # PIN lock-out) could interleave with another worker's; see _sqlite_begin.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    """Take SQLite's write lock when a transaction starts: one writer at a time, whole."""
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
        return
    # SQLite's own busy handler sleeps up to 100 ms between tries, so under load a waiter
    # wakes only after another worker has taken the lock again, and can starve past the
    # busy timeout. Trying every millisecond or two gives each waiter a fair chance.
    wait_ms = connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0
    deadline = time.monotonic() + wait_ms / 1000
    connection.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0.0005, 0.002))
    finally:  # commits may still wait for readers, with the engine's busy timeout
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait_ms)}")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def create_schema(bind: Engine | Connection) -> None:
    """Bring the schema to this version's head revision by running the migrations."""
    migrate.upgrade(bind)


def count_persons(session: Session) -> int:
    """How many persons are on file."""
    return session.scalar(select(func.count()).select_from(Person)) or 0
