"""GET /healthz means ready to serve: the database takes a write within a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Engine, make_url, text

from store.db import make_engine


@contextmanager
def writes_blocked(url: str) -> Iterator[None]:
    """Another connection holds what any write needs: SQLite's write lock, or on PostgreSQL
    the calls table, locked as a migration locks it."""
    engine: Engine = make_engine(url)
    with engine.connect() as holder:
        holder.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
        if engine.dialect.name == "postgresql":
            holder.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
        yield
        holder.rollback()
    engine.dispose()


def read_only(url: str) -> str:
    """The same database, opened read-only (a SQLite file, a PostgreSQL replica's sessions)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    options = f"{parsed.query['options']} -cdefault_transaction_read_only=on"
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def health(app: Flask) -> tuple[int, str, float]:
    """GET /healthz: its status, its body, and how long it took."""
    started = time.monotonic()
    reply = app.test_client().get("/healthz")
    return reply.status_code, reply.get_data(as_text=True), time.monotonic() - started


def test_a_database_that_takes_a_write_is_ready(app: Flask) -> None:
    assert health(app)[:2] == (200, "ok\n")


def test_a_database_whose_writes_wait_is_not_ready_within_a_second(
    app: Flask, database_url: str
) -> None:
    with writes_blocked(database_url):
        status, body, waited = health(app)
    assert (status, body) == (503, "database busy: no write lock within 1000 ms\n")
    assert 0.9 <= waited < 2.0  # a moment's lock passes; a webhook would wait 5 s and fail
    assert health(app)[:2] == (200, "ok\n")  # released: back in rotation at the next check


def test_a_read_only_database_is_not_ready(make_app, app: Flask, database_url: str) -> None:
    """It answers reads, so a SELECT 1 would pass it; no step could be recorded."""
    replica = make_app(IVR_DATABASE_URL=read_only(database_url))
    assert health(replica)[:2] == (503, "database read-only\n")
    assert health(app)[:2] == (200, "ok\n")
