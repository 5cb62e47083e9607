"""Schema migrations with Alembic: upgrade, downgrade, and the check `serve` makes.

There is no alembic.ini: the Config is built here and the app's own connection is handed
to `store/migrations/env.py`, so every migration runs with the app's engine settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from store.errors import SchemaError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "run: python run_ivr.py db upgrade"
PG_MIGRATION_LOCK = 12333  # any constant: every migrator of a database takes the same lock
MIGRATION_TIMEOUT_MS = 10 * 60 * 1000
# What builds from before migrations always made (revision 0001_core).
CORE_TABLES = frozenset({"persons", "bindings", "probe_guards", "hotline_secrets", "calls",
                         "call_events"})  # fmt: skip
CORE_CALL_COLUMNS = frozenset({"call_sid", "from_number", "node", "seq", "probe", "person_id",
                               "after_auth", "menu", "ended"})  # fmt: skip


def _config(connection: Connection | None = None, folder: Path = MIGRATIONS) -> Config:
    """An Alembic Config for our migrations folder, bound to `connection`."""
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this code knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None, "store/migrations has no revisions"
    return revision


def known(revision: str) -> bool:
    """True when `revision` is one of ours (a newer release may have made others)."""
    scripts = ScriptDirectory.from_config(_config())
    return any(script.revision == revision for script in scripts.walk_revisions())


@contextmanager
def _connection(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection in a transaction: the given one as it is, or a new one committed at the end.

    On PostgreSQL the transaction holds the migration lock, so that two machines deploying
    at once take turns, and the second reads the revision the first left behind.
    """
    if isinstance(bind, Connection):
        _lock(bind)
        yield bind
        return
    with bind.begin() as connection:
        _lock(connection)
        yield connection


def _lock(connection: Connection) -> None:
    """Take the migration lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises)."""
    if connection.dialect.name != "postgresql":
        return
    # The webhook's short timeouts would cut a long migration, or the wait for another.
    connection.execute(text(f"SET LOCAL statement_timeout = {MIGRATION_TIMEOUT_MS}"))
    connection.execute(text(f"SET LOCAL lock_timeout = {MIGRATION_TIMEOUT_MS}"))
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})


def current(bind: Engine | Connection) -> str | None:
    """The database's revision; None for an empty database or one made before migrations."""
    with _connection(bind) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def legacy_revision(connection: Connection) -> str | None:
    """The revision that a database made before migrations existed matches, if it is one.

    Tables without a migration history that no release made are refused, not guessed at.
    """
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    if not tables or "alembic_version" in tables:
        return None
    calls = {c["name"] for c in inspector.get_columns("calls")} if "calls" in tables else set()
    if not CORE_TABLES <= tables or not CORE_CALL_COLUMNS <= calls:
        raise SchemaError(
            f"the database has tables ({', '.join(sorted(tables))}) but no migration history,"
            " and they are not a hotline schema: use an empty database, or restore a backup"
        )
    # Builds with prompt audio (revision 0002) added calls.lang and call_audio together.
    return "0002_prompt_audio" if "lang" in calls and "call_audio" in tables else "0001_core"


def upgrade(bind: Engine | Connection, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `revision` (adopting a pre-migration database); return (before, after)."""
    with _connection(bind) as connection:
        adopted = legacy_revision(connection)
        if adopted is not None:
            command.stamp(_config(connection), adopted)
        before = MigrationContext.configure(connection).get_current_revision()
        if before is not None and not known(before):
            raise SchemaError(_newer(before))
        command.upgrade(_config(connection), revision)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def downgrade(bind: Engine | Connection, revision: str) -> tuple[str | None, str | None]:
    """Migrate down to `revision` ("base" drops every table); return (before, after)."""
    with _connection(bind) as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        command.downgrade(_config(connection), revision)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def new_revision(
    bind: Engine | Connection, message: str, *, autogenerate: bool, folder: Path = MIGRATIONS
) -> Path:
    """Write the next revision file (`NNNN_slug.py`); with `autogenerate`, the differences
    between the models and the database, which must be at head."""
    scripts = ScriptDirectory.from_config(_config(folder=folder))
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    rev_id = f"{len(list(scripts.walk_revisions())) + 1:04d}_{slug}"
    with _connection(bind) as connection:
        if autogenerate and MigrationContext.configure(connection).get_current_revision() != (
            scripts.get_current_head()
        ):
            raise SchemaError(f"autogenerate compares with the newest schema: {UPGRADE_HINT}")
        config = _config(connection, folder)
        config.set_main_option("file_template", "%%(rev)s")  # the id already holds the slug
        script = command.revision(config, message, autogenerate=autogenerate, rev_id=rev_id)
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def require_current(bind: Engine | Connection) -> None:
    """Refuse a database whose schema is not this code's head revision, naming the fix."""
    with _connection(bind) as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        legacy = legacy_revision(connection)
    newest = head()
    if revision == newest:
        return
    if revision is not None and not known(revision):
        raise SchemaError(_newer(revision))
    if revision is None and legacy is None:
        raise SchemaError(f"the database has no tables yet: {UPGRADE_HINT}")
    found = revision or f"{legacy} (made before migrations)"
    raise SchemaError(f"the database schema is at {found}, this version needs {newest}: "
                      f"{UPGRADE_HINT}")  # fmt: skip


def _newer(revision: str) -> str:
    """The message for a database migrated by a newer release than this one."""
    return (f"the database is at revision {revision}, which this version does not know: "
            "a newer release migrated it; run that release, or restore a backup")  # fmt: skip
