"""`calls sweep`: close the calls whose end was never reported, as lost."""

from __future__ import annotations

from datetime import UTC, timedelta

import click
from flask.cli import with_appcontext

from ivr.cli.errors import database_errors
from ivr.config import parse_duration
from ivr.errors import ConfigError
from ivr.web.context import hotline
from store.lost_calls import sweep_idle_calls

_UNITS = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))


def spoken_duration(seconds: int) -> str:
    """A whole number of seconds in its largest whole unit: 4h, 90m, 45s."""
    size, unit = next((size, unit) for size, unit in _UNITS if seconds % size == 0)
    return f"{seconds // size}{unit}"


@click.command("sweep")
@click.option("--max-idle", metavar="DURATION",
              help="Close calls with no request for this long: seconds, or 30m, 4h, 1d "
                   "[IVR_CALL_MAX_IDLE, 4h: Twilio's longest call].")  # fmt: skip
@with_appcontext
@database_errors
def sweep_calls(max_idle: str | None) -> None:
    """Close calls with no request for longer than IVR_CALL_MAX_IDLE, as lost.

    A call ends when the menu hangs up or Twilio's status callback says so. When that
    callback never arrives (lost, or refused while the database was down), the call
    would stay live: this marks it ended, logs a `lost` event and drops its read-back
    audio. New calls close a few such calls as they start; run this from cron to close
    them all. Safe while the hotline serves, and from several machines at once: no call
    is closed or counted twice.
    """
    line = hotline()
    try:
        idle = parse_duration("--max-idle", max_idle) if max_idle else line.call_max_idle
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-idle") from None
    now = line.clock().astimezone(UTC)
    closed = sweep_idle_calls(line.engine, now - timedelta(seconds=idle), now)
    click.echo(f"Closed {closed} call(s) idle for over {spoken_duration(idle)} as lost.")
