"""The health check's question to the database."""

from __future__ import annotations

from sqlalchemy import Engine, text

from store.db import READ_ONLY


def ping(engine: Engine) -> None:
    """Ask the database for a trivial answer; an unreachable one raises SQLAlchemyError."""
    # Read only: on SQLite the check must not queue behind a writer's lock.
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        connection.execute(text("SELECT 1"))
