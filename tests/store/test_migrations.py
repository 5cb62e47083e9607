"""Alembic migrations: they build exactly the models' schema on SQLite and PostgreSQL,
go down and up again, adopt databases made before migrations, and gate `serve`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text

from ivr import create_app
from ivr.errors import SchemaError
from store import migrate
from store.db import make_engine
from store.models import Base, HotlineSecret
from tests.conftest import BACKENDS, new_pg_schema

ROOT = Path(__file__).resolve().parents[2]
REVISIONS = [
    "0001_core", "0002_prompt_audio", "0003_caller_guards", "0004_phone_calls", "0005_menu_version",
    "0006_last_answer", "0007_transactions", "0008_statement_page",
]  # fmt: skip


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with new_pg_schema("ivr_mig") as url:
        yield url


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    """An engine on the empty database."""
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list:
    """What autogenerate would change to make the database match the models."""
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_the_revisions_form_one_line_ending_at_head() -> None:
    assert migrate.head() == REVISIONS[-1]
    assert all(migrate.known(revision) for revision in REVISIONS)
    assert not migrate.known("9999_future")


def test_upgrade_builds_exactly_the_models_schema(engine: Engine) -> None:
    assert migrate.upgrade(engine) == (None, migrate.head())
    assert differences(engine) == []
    assert set(inspect(engine).get_table_names()) == {*Base.metadata.tables, "alembic_version"}


def test_every_revision_goes_down_and_up_again(engine: Engine) -> None:
    migrate.upgrade(engine)
    for older in reversed(["base", *REVISIONS[:-1]]):
        migrate.downgrade(engine, older)
        assert migrate.current(engine) == (None if older == "base" else older)
    assert inspect(engine).get_table_names() in ([], ["alembic_version"])
    migrate.upgrade(engine)
    assert differences(engine) == []


def test_upgrade_again_changes_nothing_and_keeps_the_data(engine: Engine) -> None:
    migrate.upgrade(engine, "0001_core")
    with engine.begin() as connection:
        connection.execute(HotlineSecret.__table__.insert().values(name="kept", value="v"))
    assert migrate.upgrade(engine) == ("0001_core", migrate.head())
    assert migrate.upgrade(engine) == (migrate.head(), migrate.head())
    with engine.connect() as connection:
        assert connection.scalar(select(HotlineSecret.value)) == "v"


@pytest.mark.parametrize("legacy", ["0001_core", "0002_prompt_audio"])
def test_a_database_from_before_migrations_is_adopted(engine: Engine, legacy: str) -> None:
    """Builds before Alembic made the tables with create_all and kept no version table."""
    migrate.upgrade(engine, legacy)
    with engine.begin() as connection:
        connection.execute(HotlineSecret.__table__.insert().values(name="kept", value="v"))
        connection.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(SchemaError, match=f"{legacy} \\(made before migrations\\).*db upgrade"):
        migrate.require_current(engine)
    assert migrate.upgrade(engine) == (legacy, migrate.head())
    assert differences(engine) == []
    with engine.connect() as connection:
        assert connection.scalar(select(HotlineSecret.value)) == "v"


def test_a_revision_from_a_newer_release_is_refused(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    for attempt in (migrate.require_current, migrate.upgrade):
        with pytest.raises(SchemaError, match="9999_future.*newer release"):
            attempt(engine)


@pytest.mark.slow
def test_two_machines_upgrading_at_once_both_succeed(empty_url: str) -> None:
    """Deploys race: the second migrator waits for the first, then finds nothing to do.

    Separate processes, as on two machines (Alembic's context is one per process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "FLASK_"))}
    env.update(IVR_DATABASE_URL=empty_url, IVR_AUTH_TOKEN="", COLUMNS="200")
    command = [sys.executable, "run_ivr.py", "db", "upgrade"]
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    said = sorted("nothing to do" in out for out, _ in outputs)
    assert said == [False, True], outputs  # one migrated, the other found it done
    engine = make_engine(empty_url)
    try:
        assert migrate.current(engine) == migrate.head() and differences(engine) == []
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- the CLI


def cli(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    """Run `python run_ivr.py ARGS` on a database, bounded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "FLASK_"))}
    env.update(IVR_DATABASE_URL=database_url, IVR_AUTH_TOKEN="", COLUMNS="200")
    return subprocess.run([sys.executable, "run_ivr.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("state", ["empty", "0002_prompt_audio"])
def test_serve_refuses_an_out_of_date_schema_and_names_the_command(
    engine: Engine, empty_url: str, state: str
) -> None:
    if state != "empty":
        migrate.upgrade(engine, state)
    result = cli(["serve", "--port", "1"], empty_url)
    assert result.returncode == 1
    assert "python run_ivr.py db upgrade" in result.stderr and "Traceback" not in result.stderr
    assert state in result.stderr or "no tables" in result.stderr


def test_db_commands_upgrade_report_and_downgrade(empty_url: str) -> None:
    current = cli(["db", "current"], empty_url)
    assert current.returncode == 1 and "Revision: none" in current.stdout
    upgraded = cli(["db", "upgrade"], empty_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"empty → {migrate.head()}" in upgraded.stdout
    assert "nothing to do" in cli(["init-db"], empty_url).stdout
    current = cli(["db", "current"], empty_url)
    assert current.returncode == 0 and "Up to date." in current.stdout
    down = cli(["db", "downgrade", "0001_core", "--yes"], empty_url)
    assert down.returncode == 0 and f"{migrate.head()} → 0001_core" in down.stdout
    refused = cli(["db", "downgrade", "base"], empty_url)  # no --yes, no terminal: aborted
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    assert cli(["db", "current"], empty_url).stdout.count("0001_core") == 2


def test_the_app_itself_never_migrates(empty_url: str) -> None:
    """Workers only read the schema: building the app leaves an empty database empty."""
    app = create_app({"IVR_DATABASE_URL": empty_url, "IVR_SPEECH": "say", "TESTING": True})
    engine = app.extensions["ivr"].engine
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("args", [["upgrade", "9999_nosuch"], ["downgrade", "nosuch", "--yes"]])
def test_an_unknown_revision_is_one_line(empty_url: str, args: list[str]) -> None:
    cli(["db", "upgrade"], empty_url)
    result = cli(["db", *args], empty_url)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error:") and "nosuch" in result.stderr


def test_a_new_revision_is_numbered_and_empty_when_models_match(
    engine: Engine, tmp_path: Path
) -> None:
    """`db revision` on a database at head: the next number, and nothing to change."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    migrate.upgrade(engine)
    path = migrate.new_revision(engine, "Add a column!", autogenerate=True, folder=folder)
    assert path.name == f"{len(REVISIONS) + 1:04d}_add_a_column.py"
    text = path.read_text()
    assert f"down_revision = '{REVISIONS[-1]}'" in text
    body = text.split("def upgrade() -> None:", 1)[1].split("def downgrade", 1)[0]
    assert "op." not in body  # the models and the migrations agree


def test_autogenerate_needs_a_database_at_head(engine: Engine, tmp_path: Path) -> None:
    migrate.upgrade(engine, REVISIONS[0])
    with pytest.raises(SchemaError, match="db upgrade"):
        migrate.new_revision(engine, "x", autogenerate=True, folder=tmp_path)
