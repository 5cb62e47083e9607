"""The database layer: bounded waits, schema checks and what the CLI says when it fails."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from store.db import PG_CONNECT_SECONDS, READ_ONLY, create_schema, make_engine, with_pg_limits
from store.demo import demo_data

LIMITS = "-c statement_timeout=5000 -c lock_timeout=3000"


@pytest.mark.parametrize(
    ("url", "options", "connect_timeout"),
    [
        ("postgresql+psycopg://u@h/db", LIMITS, str(PG_CONNECT_SECONDS)),
        (
            "postgresql+psycopg://u@h/db?options=-csearch_path%3Dx",
            f"{LIMITS} -csearch_path=x",
            str(PG_CONNECT_SECONDS),
        ),
        (  # the URL's own timeout comes last, so it wins over ours
            "postgresql+psycopg://u@h/db?options=-c%20statement_timeout%3D60000&connect_timeout=20",
            f"{LIMITS} -c statement_timeout=60000",
            "20",
        ),
        (
            "postgresql+psycopg://u@h/db?options=-ca%3D1&options=-cb%3D2",
            f"{LIMITS} -ca=1 -cb=2",
            str(PG_CONNECT_SECONDS),
        ),
    ],
)
def test_postgresql_limits_merge_with_the_urls_own(url, options, connect_timeout) -> None:
    merged = with_pg_limits(make_url(url))
    assert merged.query["options"] == options
    assert merged.query["connect_timeout"] == connect_timeout


def test_tables_no_release_made_are_refused_in_one_line(make_app, tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:  # a calls table older than any released schema
        old.execute("CREATE TABLE calls (call_sid VARCHAR(64) PRIMARY KEY, node VARCHAR(64))")
    app = make_app(IVR_DATABASE_URL=f"sqlite:///{path}")
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 1
    assert "no migration history" in result.output and "calls" in result.output
    assert "Traceback" not in result.output


def test_an_import_rejected_late_leaves_a_new_database_without_tables(
    make_app, tmp_path: Path
) -> None:
    path = tmp_path / "fresh.sqlite3"
    app = make_app(IVR_DATABASE_URL=f"sqlite:///{path}")
    data = demo_data()
    data["bindings"][0]["beneficiary"] = "110101199001011237"  # nobody, anywhere
    file = tmp_path / "late.json"
    file.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    result = app.test_cli_runner().invoke(args=["import", str(file)])
    assert result.exit_code == 1 and "bindings[0]" in result.output
    assert inspect(app.extensions["ivr"].engine).get_table_names() == []


@pytest.mark.parametrize("command", [["unlock", "65010219680312109X"], ["init-db"]])
def test_cli_reports_an_unreachable_database_without_a_traceback(make_app, command) -> None:
    app = make_app(IVR_DATABASE_URL="sqlite:////nonexistent-dir/x.sqlite3")
    result = app.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1
    assert "Error: database error" in result.output and "Traceback" not in result.output


def test_health_check_fails_in_a_second_while_a_writer_holds_sqlite(make_app, tmp_path) -> None:
    """Every webhook writes: a lock held elsewhere means callers would hear only "busy"."""
    app = make_app(IVR_DATABASE_URL=f"sqlite:///{tmp_path / 'held.sqlite3'}")
    engine = app.extensions["ivr"].engine
    create_schema(engine)
    with engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE: the write lock, held
        started = time.monotonic()
        reply = app.test_client().get("/healthz")
        waited = time.monotonic() - started
        writer.rollback()
    assert reply.status_code == 503 and 0.9 <= waited < 2.0
    assert reply.get_data(as_text=True) == "database busy: no write lock within 1000 ms\n"
    assert app.test_client().get("/healthz").status_code == 200  # released: ready again


def test_sqlite_files_run_in_wal_mode_with_normal_sync(tmp_path: Path) -> None:
    """Every connection finds the file in WAL mode, synced at checkpoints, handler off."""
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        # _sqlite_begin polls for the write lock itself; SQLite's own handler is off.
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0
    engine.dispose()


def test_a_reader_reads_while_a_writer_holds_the_write_lock(tmp_path: Path) -> None:
    """WAL: a read transaction never waits for a writer, and sees the last commit."""
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as writer, engine.connect() as reader:
        writer.begin()
        writer.exec_driver_sql("UPDATE t SET n = 2")
        reader = reader.execution_options(**{READ_ONLY: True})
        with reader.begin():
            assert reader.exec_driver_sql("SELECT n FROM t").scalar() == 1
        writer.commit()
    engine.dispose()


def test_a_second_writer_waits_its_busy_timeout_then_fails(tmp_path: Path) -> None:
    """Writers still take turns: BEGIN IMMEDIATE is retried until the busy timeout."""
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}?timeout=0.2")
    with engine.connect() as holder, engine.connect() as other:
        holder.begin()
        with pytest.raises(OperationalError, match="locked"):
            other.begin()
        holder.rollback()
        other.begin()  # free again: the lock is taken at once
        other.rollback()
    engine.dispose()


def test_an_in_memory_database_keeps_the_busy_handler_for_commits() -> None:
    """No WAL in memory: BEGIN runs with the handler off, then the timeout is back on."""
    engine = make_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
        connection.commit()
        with connection.begin():
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_a_reader_waits_its_timeout_and_the_next_writer_polls_again(tmp_path: Path) -> None:
    """A read-only transaction raises the busy timeout; the next write BEGIN lowers it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}", poolclass=StaticPool)
    with engine.connect().execution_options(**{READ_ONLY: True}) as reader:
        with reader.begin():
            assert reader.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    with engine.connect() as writer:
        with writer.begin():
            assert writer.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0
    engine.dispose()
