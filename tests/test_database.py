"""The database layer: bounded waits, schema checks and what the CLI says when it fails."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url

from store.db import PG_CONNECT_SECONDS, _with_pg_limits, create_schema
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
    merged = _with_pg_limits(make_url(url))
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


def test_health_check_answers_while_a_writer_holds_sqlite(make_app, tmp_path: Path) -> None:
    app = make_app(IVR_DATABASE_URL=f"sqlite:///{tmp_path / 'held.sqlite3'}")
    engine = app.extensions["ivr"].engine
    create_schema(engine)
    with engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE: the write lock, held
        reply = app.test_client().get("/healthz")
        writer.rollback()
    assert reply.status_code == 200
