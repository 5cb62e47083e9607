"""One-line reports of database failures for every command, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError

from ivr.errors import SchemaError


def database_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Report a database that is down, busy or out of date in one line, not a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        """Run the command, turning database failures into a ClickException."""
        try:
            command(*args, **kwargs)
        except (SchemaError, CommandError) as exc:  # CommandError: e.g. an unknown revision
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            raise click.ClickException(f"database error: {exc.orig}") from None

    return run
