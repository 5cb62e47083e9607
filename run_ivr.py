#!/usr/bin/env python3
"""The hotline's command line: python run_ivr.py --help."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from ivr.cli.menu import menu
from ivr.errors import IvrError


def _create_app():
    """Build the app, turning a configuration problem into a clean error message."""
    from ivr import create_app

    try:
        return create_app()
    except IvrError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)  # fmt: skip
def cli() -> None:
    """12333 IVR hotline simulator: serve the Twilio webhook, import accounts, unlock PINs.

    Settings come from IVR_* environment variables (see README.md).
    """


# Registered here, not only on the app: `menu check` must work when the menu stops the app.
cli.add_command(menu)

# FlaskGroup's --app/--debug/--env-file options mean nothing here: the app is always ours.
cli.params = [p for p in cli.params if p.name not in {"app", "debug", "env_file"}]

if __name__ == "__main__":
    cli()
