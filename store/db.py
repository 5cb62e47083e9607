"""Database engine and per-request sessions, built by the app (never at import time)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Base, Person


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine with pre-ping pooling; SQLite gets foreign keys and a busy wait."""
    if url.startswith("sqlite"):
        # Several workers share one SQLite file: wait for the write lock instead of failing.
        options.setdefault("connect_args", {"timeout": 15})
    # hide_parameters: an error message must never carry an ID number or a PIN hash.
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Turn on foreign keys, which SQLite leaves off per connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """Create every table that is missing."""
    Base.metadata.create_all(engine)


def schema_ready(engine: Engine) -> bool:
    """True when every table of the models exists."""
    existing = set(inspect(engine).get_table_names())
    return set(Base.metadata.tables) <= existing


def count_persons(session: Session) -> int:
    """How many persons are on file."""
    return session.scalar(select(func.count()).select_from(Person)) or 0
