"""Database engine and per-request sessions, built by the app (never at import time)."""

from __future__ import annotations

import random
import sqlite3
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
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from store import migrate
from store.models import Person

# Every wait is bounded well inside Twilio's 15 s, so a caller stuck behind a locked or
# vanished database hears the busy message instead of Twilio's own application error.
SQLITE_BUSY_SECONDS = 5
PG_CONNECT_SECONDS = 3
PG_STATEMENT_MS = 5000
PG_LOCK_MS = 3000
READ_ONLY = "ivr_read_only"  # execution option: this connection never writes (look-ups)
# Execution option: wait this many ms for SQLite's write lock instead of the busy timeout.
WRITE_WAIT_MS = "ivr_write_wait_ms"
# What a SQLite connection learnt when it opened, and whether a reader raised its timeout.
WAIT_MS, WAL, READ_WAIT = "ivr_busy_ms", "ivr_wal", "ivr_read_wait"
# A pooled server connection idle longer than this is pinged before use (see _ping_if_idle).
PING_IDLE_SECONDS = 5.0
IDLE_SINCE = "ivr_idle_since"


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine with idle-ping pooling, bounded waits and serialised SQLite writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and "timeout" not in parsed.query:
        options.setdefault("connect_args", {"timeout": SQLITE_BUSY_SECONDS})
    elif parsed.get_driver_name() in ("psycopg", "psycopg2"):
        parsed = with_pg_limits(parsed)
    # hide_parameters: an error message must never carry an ID number or a PIN hash.
    engine = create_engine(parsed, hide_parameters=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:  # a SQLite file cannot drop its connection; a server can
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle, not on every checkout.

    pool_pre_ping cost a round trip per request. A connection in steady use is known to be
    alive; one idle past PING_IDLE_SECONDS (a database restart, a firewall's timeout) is
    pinged, and a dead one is replaced before the request uses it. A connection that dies
    in use is a disconnect error: SQLAlchemy then drops the whole pool at once.
    """
    dialect = engine.dialect

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        """Note when the connection went back to the pool."""
        if record is not None:
            record.info[IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Ping a connection that sat idle; a dead one makes the pool connect afresh."""
        since = record.info.get(IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("idle pooled connection is gone") from exc

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


def with_pg_limits(url: URL) -> URL:
    """Add libpq's connect, statement and lock timeouts; the URL's own settings win."""
    limits = f"-c statement_timeout={PG_STATEMENT_MS} -c lock_timeout={PG_LOCK_MS}"
    extra = url.query.get("options", ())
    extra = [extra] if isinstance(extra, str) else list(extra)
    query = {"options": " ".join([limits, *extra])}  # later -c settings override earlier
    if "connect_timeout" not in url.query:
        query["connect_timeout"] = str(PG_CONNECT_SECONDS)
    return url.update_query_dict(query)


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    """Foreign keys on, write-ahead logging, and BEGIN left to us, not the sqlite3 module."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    record.info[WAIT_MS] = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
    if _use_wal(cursor):
        # Readers never wait in WAL mode, and _sqlite_begin polls for the write lock itself,
        # so SQLite's own busy handler is off and a BEGIN is one statement, not four.
        cursor.execute("PRAGMA busy_timeout = 0")
        record.info[WAL] = True
    cursor.close()
    # The sqlite3 module would only BEGIN at the first write, so a read-check-write (the
    # PIN lock-out) could interleave with another worker's; see _sqlite_begin.
    dbapi_connection.isolation_level = None


def _use_wal(cursor: Any) -> bool:
    """Write-ahead logging, synced at checkpoints; True when the file is in WAL mode.

    A commit then costs no fsync, and readers (audio fetches, PIN look-ups, health checks)
    never wait for a writer. An app crash loses nothing; a power cut may lose the last
    call steps (and wrong-PIN counts), which the caller repeats. The file keeps the mode.
    """
    mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal":
        try:
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError:
            return False  # another connection holds a lock: a later connection switches
    if mode != "wal":
        return False  # e.g. in memory; rollback journals keep SQLite's full sync
    cursor.execute("PRAGMA synchronous=NORMAL")
    return True


def _sqlite_begin(connection: Any) -> None:
    """Take SQLite's write lock when a transaction starts: one writer at a time, whole."""
    info = connection.connection.info
    options = connection.get_execution_options()
    wait_ms = options.get(WRITE_WAIT_MS, info[WAIT_MS])
    if options.get(READ_ONLY):
        if info.get(WAL) and not info.get(READ_WAIT):
            # A WAL reader is rarely refused (while another connection recovers the log),
            # but then it should wait, as before, rather than fail at once.
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(info[WAIT_MS])}")
            info[READ_WAIT] = True
        connection.exec_driver_sql("BEGIN")
        return
    if info.get(WAL):
        if info.pop(READ_WAIT, False):  # the handler back off: writers poll, see below
            connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        _begin_immediate(connection, wait_ms)
        return
    # Without WAL (a file system that cannot share memory), commits wait for readers with
    # the engine's busy timeout, so only the BEGIN runs with SQLite's handler off.
    connection.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        _begin_immediate(connection, wait_ms)
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(info[WAIT_MS])}")


def _begin_immediate(connection: Any, wait_ms: int) -> None:
    """BEGIN IMMEDIATE, retried every 1-2 ms until the busy timeout (SQLite's handler off).

    SQLite's own busy handler sleeps up to 100 ms between tries, so under load a waiter
    wakes only after another worker has taken the lock again, and can starve past the
    busy timeout. Trying every millisecond or two gives each waiter a fair chance. The
    tries go straight to the sqlite3 connection: through SQLAlchemy, each refused one
    built a wrapped exception, and with 16 threads waiting that polling cost more CPU than
    the steps. The last try goes through SQLAlchemy, so a timeout is its usual error.
    """
    raw = connection.connection.driver_connection
    deadline = time.monotonic() + wait_ms / 1000
    while time.monotonic() < deadline:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                break  # not a wait: SQLAlchemy raises it below, wrapped
        time.sleep(random.uniform(0.0005, 0.002))
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def create_schema(bind: Engine | Connection) -> None:
    """Bring the schema to this version's head revision by running the migrations."""
    migrate.upgrade(bind)


def count_persons(session: Session) -> int:
    """How many persons are on file."""
    return session.scalar(select(func.count()).select_from(Person)) or 0
