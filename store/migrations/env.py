"""Alembic's environment: migrations run on a connection the hotline hands over.

There is no alembic.ini: `store.migrate` builds the Config and passes the connection
(`config.attributes["connection"]`), so the engine options (timeouts, SQLite's write
lock) are the app's own.
"""

from __future__ import annotations

from alembic import context

from store.models import Base


def run_migrations() -> None:
    """Run the pending migrations in the caller's transaction."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite can only ALTER by copying the table
        transaction_per_migration=False,
    )
    # store.migrate has begun the transaction and taken the migration lock.
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run `db upgrade`")
run_migrations()
