"""`pin-key`: make, rotate and retire the keys PIN hashes are made with (store.pins)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ivr.cli.errors import database_errors
from ivr.web.context import hotline
from store import lockout, pins

console = Console()


def _key_file() -> Path:
    """IVR_PIN_KEY_FILE, which must be set for the commands that write keys."""
    value = str(current_app.config["IVR_PIN_KEY_FILE"]).strip()
    if not value:
        raise click.ClickException("IVR_PIN_KEY_FILE is empty: name the key file to write")
    return Path(value)


def _env_note() -> None:
    """Warn that the key file is not what the hotline reads while IVR_PIN_KEY is set."""
    if str(current_app.config["IVR_PIN_KEY"]).strip():
        console.print(
            "[yellow]IVR_PIN_KEY is set, so the hotline does not read the key file.[/] To rotate"
            " there: set IVR_PIN_KEY to a new key (`pin-key new --print`) and put the old one"
            " in IVR_PIN_OLD_KEYS until `pin-key status` shows no hash uses it.",
            soft_wrap=True,
        )


@click.group("pin-key")
def pin_key() -> None:
    """Keys for PIN hashes: kept apart from the database (docs/security.md)."""


@pin_key.command("new")
@click.option("--print", "show", is_flag=True,
              help="Print a new key for IVR_PIN_KEY instead of writing the key file.")  # fmt: skip
@click.option("--if-missing", is_flag=True,
              help="Do nothing when a key is already set (make run uses this).")  # fmt: skip
@with_appcontext
def new_key(show: bool, if_missing: bool) -> None:
    """Add a new current key to IVR_PIN_KEY_FILE; older keys stay readable below it.

    Hashes under an older key are re-made under the new one as each person next keys the
    right PIN; `pin-key status` counts them, and `pin-key retire` drops a key none uses.
    """
    if show:
        click.echo(pins.generate_key())
        return
    if if_missing and hotline().pins is not None:
        return
    path = _key_file()
    old = pins.read_key_file(path) if path.exists() else []
    key = bytes.fromhex(pins.generate_key())
    pins.write_key_file(path, [key, *old])
    console.print(
        f"New PIN key {pins.key_id(key)} written to {escape(str(path))}"
        f" ({len(old)} older key(s) kept). Restart the hotline to hash with it.",
        soft_wrap=True,
    )
    _env_note()


@pin_key.command("status")
@with_appcontext
@database_errors
def key_status() -> None:
    """Which keys are loaded, and how many stored PIN hashes each one made."""
    try:
        keys = hotline().require_pins()
    except pins.PinKeyError as exc:
        raise click.ClickException(str(exc)) from None
    with hotline().sessions() as session:
        counts = lockout.hashes_by_key(session)
    table = Table(title=f"PIN keys from {keys.source}")
    for column in ("key id", "role", "hashes"):
        table.add_column(column)
    for number, kid in enumerate(keys.ids):
        table.add_row(kid, "current" if number == 0 else "older", str(counts.pop(kid, 0)))
    legacy = counts.pop(pins.LEGACY, 0)
    table.add_row(pins.LEGACY, "before keyed hashes (re-made at the next right PIN)", str(legacy))
    for kid, count in sorted(counts.items()):
        table.add_row(f"[red]{kid}[/]", "[red]not loaded: these PINs cannot be checked[/]",
                      str(count))  # fmt: skip
    console.print(table)
    if counts:
        raise SystemExit(1)


@pin_key.command("retire")
@click.argument("key_id")
@with_appcontext
@database_errors
def retire_key(key_id: str) -> None:
    """Remove the older key KEY_ID from IVR_PIN_KEY_FILE once no stored hash uses it."""
    path = _key_file()
    keys = pins.read_key_file(path)
    ids = [pins.key_id(k) for k in keys]
    if key_id not in ids:
        raise click.ClickException(f"no key {key_id} in {path} (it has {', '.join(ids)})")
    if ids[0] == key_id:
        raise click.ClickException(f"{key_id} is the current key: add a new one first")
    with hotline().sessions() as session:
        used = lockout.hashes_by_key(session).get(key_id, 0)
    if used:
        raise click.ClickException(
            f"{used} PIN hash(es) still use {key_id}: keep it until their owners call again"
        )
    pins.write_key_file(path, [k for k in keys if pins.key_id(k) != key_id])
    console.print(f"Retired PIN key {key_id} from {escape(str(path))}.", soft_wrap=True)
    _env_note()
