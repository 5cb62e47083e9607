"""`db upgrade | downgrade | current`: the schema, migrated with Alembic."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.markup import escape
from sqlalchemy import make_url

from ivr.cli.errors import database_errors
from ivr.errors import SchemaError
from ivr.web.context import hotline
from store import migrate

console = Console()


@click.group("db")
def db() -> None:
    """Migrate the database schema (Alembic): upgrade, downgrade, current, revision."""


def upgrade_schema(revision: str = "head") -> None:
    """Migrate the app's database and say what changed."""
    before, after = migrate.upgrade(hotline().engine, revision)
    change = f"{after}, nothing to do" if before == after else f"{before or 'empty'} → {after}"
    console.print(f"[green]Database ready:[/] {_where()} (revision {change})", soft_wrap=True)


def _where() -> str:
    """The database URL as configured, its password hidden."""
    return escape(make_url(current_app.config["IVR_DATABASE_URL"]).render_as_string())


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
@database_errors
def upgrade(revision: str) -> None:
    """Create or migrate the tables to REVISION (default: head, the newest).

    Safe to run again, and from several machines at once (PostgreSQL takes a lock).
    A database made before migrations existed is adopted where it stands.
    """
    upgrade_schema(revision)


@db.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask: dropped tables lose their data.")
@with_appcontext
@database_errors
def downgrade(revision: str, yes: bool) -> None:
    """Migrate down to REVISION (e.g. 0002_prompt_audio; `base` drops every table)."""
    if not yes:
        click.confirm(f"Downgrade to {revision}? Tables and columns it removes lose their data",
                      abort=True)  # fmt: skip
    before, after = migrate.downgrade(hotline().engine, revision)
    console.print(f"Downgraded: revision {before or 'empty'} → {after or 'empty (no tables)'}")


@db.command("revision")
@click.argument("message")
@click.option(
    "--autogenerate/--empty",
    default=True,
    show_default=True,
    help="Write the differences between the models and the database (at head).",
)
@with_appcontext
@database_errors
def revision(message: str, autogenerate: bool) -> None:
    """For developers: write the next migration file, store/migrations/versions/NNNN_*.py.

    Change store/models.py, run `db upgrade` on a development database, then this; read
    the file it writes (autogenerate misses some changes), and add a test.
    """
    path = migrate.new_revision(hotline().engine, message, autogenerate=autogenerate)
    console.print(f"Wrote {escape(str(path))}: check it, then run `db upgrade`", soft_wrap=True)


@db.command("current")
@with_appcontext
@database_errors
def current() -> None:
    """Print the database's revision and whether `db upgrade` has work to do."""
    engine = hotline().engine
    revision = migrate.current(engine)
    console.print(f"Database: {_where()}", soft_wrap=True)
    console.print(f"Revision: {revision or 'none'}; this version needs {migrate.head()}")
    try:
        migrate.require_current(engine)
    except SchemaError as exc:  # say what to do, and exit non-zero for scripts
        console.print(f"[yellow]{escape(str(exc))}[/]", soft_wrap=True)
        raise SystemExit(1) from None
    console.print("[green]Up to date.[/]")
