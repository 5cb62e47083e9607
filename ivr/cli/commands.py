"""Command-line commands, registered on the app (python run_ivr.py … or flask --app ivr …)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TextColumn
from rich.table import Table

from ivr.cli.calls import calls
from ivr.cli.db import db, upgrade_schema
from ivr.cli.errors import database_errors
from ivr.cli.menu import menu, print_problems
from ivr.cli.phone import call_command
from ivr.cli.pinkey import pin_key
from ivr.cli.prompts import prompts
from ivr.config import DEFAULT_THREADS, INSTANCE, SHANGHAI
from ivr.core.identity import Identity, IdKind, parse_keyed_entry
from ivr.errors import IdentityError, ImportFileError
from ivr.web.context import hotline
from store import lockout, migrate
from store.db import count_persons, create_schema
from store.demo import demo_data
from store.id_numbers import mask_id
from store.import_apply import import_file
from store.pins import PinKeyError

console = Console()
DEMO_FILE = INSTANCE / "demo.json"
UNLOCK_NUMBER = re.compile(r"[0-9Xx*]+")  # X may end an ID, typed * as on a keypad
UNLOCK_EXAMPLE = "expected an 18-character ID number (X may be typed as *) or a 9-digit card number"


def register(app: Flask) -> None:
    """Add every command to the app's CLI group."""
    commands = (serve, db, init_db, import_command, unlock, demo_data_command, prompts, calls,
                call_command, menu, pin_key)  # fmt: skip
    for command in commands:
        app.cli.add_command(command)


def _today():
    """Today in Asia/Shanghai, by the app's clock."""
    return hotline().clock().astimezone(SHANGHAI).date()


def _speech_note() -> None:
    """Say how prompts will be spoken, and how to get audio when there is none."""
    catalogue = hotline().catalogue
    if catalogue is not None:
        console.print(f"Prompts: <Play> audio from {escape(str(catalogue.folder))}")
    else:
        console.print(
            "Prompts: <Say> text (IVR_SPEECH=say, or no rendered audio yet:"
            " `python run_ivr.py prompts render`)"
        )


@click.command("init-db")
@with_appcontext
@database_errors
def init_db() -> None:
    """Create the tables, or migrate them to this version: the same as `db upgrade`."""
    upgrade_schema()


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@database_errors
def import_command(file: Path) -> None:
    """Load accounts from an import FILE (JSON): all records, or none at all."""
    try:
        pins = hotline().require_pins()
        with _import_progress(file) as report, hotline().sessions() as session:
            summary = import_file(session, file, _today(), pins.hash, report)
    except PinKeyError as exc:
        raise click.ClickException(str(exc)) from None
    except ImportFileError as exc:
        console.print(f"[red]Import rejected:[/] {escape(str(exc))}", soft_wrap=True)
        console.print("Nothing was changed in the database.")
        raise SystemExit(1) from None
    table = Table(title=f"Imported {file.name}")
    for column in ("", "added", "updated"):
        table.add_column(column)
    table.add_row("persons", str(summary.persons_added), str(summary.persons_updated))
    table.add_row("bindings", str(summary.bindings_added), str(summary.bindings_updated))
    table.add_row("transactions", str(summary.transactions_added),
                  str(summary.transactions_updated))  # fmt: skip
    console.print(table)


@contextmanager
def _import_progress(file: Path) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar over the file's bytes that also counts its records per second."""
    try:
        size = file.stat().st_size or None
    except OSError:
        size = None  # the import itself says why the file cannot be read
    counted = TextColumn("{task.fields[records]:,} records, {task.fields[rate]:,.0f}/s")
    with Progress(*Progress.get_default_columns(), counted, console=console,
                  transient=True) as progress:  # fmt: skip
        task = progress.add_task("Reading", total=size, records=0, rate=0.0)
        started = time.monotonic()

        def report(stage: str, records: int, bytes_read: int) -> None:
            """Show how far the import got; the rate is of reading and validating."""
            rate = records / max(time.monotonic() - started, 1e-3)
            fields = {"rate": rate} if stage == "Reading" else {}
            progress.update(task, description=stage, completed=bytes_read or size,
                            records=records, **fields)  # fmt: skip

        yield report


@click.command("unlock")
@click.argument("number")
@with_appcontext
@database_errors
def unlock(number: str) -> None:
    """Clear the PIN lock-out of an ID or card NUMBER, on file or not (X may be typed as *).

    A person's ID and card number share one lock; a number not on file has a lock of its own.
    """
    identity = _unlock_number(number)
    with hotline().sessions() as session:
        cleared = lockout.unlock(session, identity.kind.value, identity.number)
        session.commit()
    console.print(_unlock_report(identity, cleared), soft_wrap=True)


def _unlock_number(typed: str) -> Identity:
    """An 18-character ID or a 9-digit card number, as a caller would key it; else exit 2."""
    text = typed.strip()
    if not UNLOCK_NUMBER.fullmatch(text):
        raise click.BadParameter(UNLOCK_EXAMPLE, param_hint="NUMBER")
    try:
        return parse_keyed_entry(text, _today())
    except IdentityError as exc:
        raise click.BadParameter(f"{exc} ({UNLOCK_EXAMPLE})", param_hint="NUMBER") from None


def _unlock_report(identity: Identity, cleared: lockout.Unlocked) -> str:
    """What was cleared, the numbers masked to their last 4 characters."""
    name = f"ID {mask_id(identity.number)}"
    if identity.kind is IdKind.CARD:
        name = f"card {mask_id(identity.number)}"
        if cleared.id_number is not None:
            name += f" of ID {mask_id(cleared.id_number)}"
    on_file = cleared.id_number is not None
    count = cleared.failed_pins
    if not (cleared.locked or count):
        state = "is not locked" if on_file else "is not on file"
        return f"Nothing to clear: {name} {state} and has no wrong PINs counted."
    counted = f"{count} wrong PIN{'' if count == 1 else 's'}"
    what = f"the lock-out and {counted}" if cleared.locked else counted
    if not on_file:
        return f"[green]Cleared[/] the guard of {name}, not on file: {what}."
    return f"[green]Unlocked[/] {name}: cleared {what}. Self-service PIN entry works again."


@click.command("demo-data")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEMO_FILE,
    show_default=True,
    help="Where to write the import file.",
)
@click.option("--load-if-empty", is_flag=True,
              help="Also import it when the database has no persons yet.")  # fmt: skip
@with_appcontext
@database_errors
def demo_data_command(output: Path, load_if_empty: bool) -> None:
    """Write the demo import file: a family with bindings and an ID ending in X."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(demo_data(), ensure_ascii=False, indent=2) + "\n", "utf-8")
    console.print(f"Wrote demo accounts to {output}", soft_wrap=True)
    if not load_if_empty:
        return
    create_schema(hotline().engine)
    with hotline().sessions() as session:
        empty = count_persons(session) == 0
    if empty:
        click.get_current_context().invoke(import_command, file=output)
    else:
        console.print("The database already has persons: demo data not loaded.")


def _menu_note(reload: bool) -> None:
    """Say which menu is served, list its lint warnings, and turn reloading on if asked."""
    editions = hotline().editions
    edition = editions.current
    print_problems(list(editions.warnings))  # the app's start-up check refused any error
    console.print(
        f"Menu: {escape(str(edition.menu.source))} (version {edition.version},"
        f" {len(editions.warnings)} warning(s); `menu check` lints it)",
        soft_wrap=True,
    )
    if reload:
        os.environ["IVR_MENU_RELOAD"] = "1"  # read by each worker's app
        console.print("Reload: a new call takes the menu files as last saved.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Gunicorn worker processes.")  # fmt: skip
@click.option("--threads", default=DEFAULT_THREADS, show_default=True,
              type=click.IntRange(1, 64),
              help="Threads per worker: requests that overlap a slow PIN check.")  # fmt: skip
@click.option("--reload", "reload", is_flag=True,
              help="Development: each new call takes the menu YAML as last saved (a call in "
                   "progress keeps the version it started with; a broken edit is logged and "
                   "ignored).")  # fmt: skip
@with_appcontext
@database_errors
def serve(host: str, port: int, workers: int, threads: int, reload: bool) -> None:
    """Serve the hotline with gunicorn; point a Twilio number's voice webhook at /voice."""
    from ivr.web.server import run_gunicorn

    migrate.require_current(hotline().engine)
    try:
        keys = hotline().require_pins()
    except PinKeyError as exc:
        raise click.ClickException(str(exc)) from None
    _menu_note(reload)
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host
    base = f"http://{shown}:{port}"
    url = f"{base}/voice"
    console.print(
        f"[bold]{escape(hotline().menu.name)}[/] on {url}  ({workers} worker(s) × {threads}"
        f" threads, menu {hotline().menu.source.name})\n"
        f"Twilio: set your number's 'A call comes in' webhook (HTTP POST) to "
        f"https://<your public host>/voice and IVR_PUBLIC_URL to https://<your public host>.\n"
        f"Try it:  curl -s -X POST {url} -d CallSid=CAdemo0001 -d From=+8613800138000\n"
        f"Health: {base}/healthz   Metrics: {base}/metrics   Logs: JSON lines on stderr\n"
        f"Started at {datetime.now(SHANGHAI):%Y-%m-%d %H:%M} Asia/Shanghai. Ctrl-C stops it.",
        soft_wrap=True,  # a wrapped curl example could not be copied and pasted
    )
    if "softphone" in current_app.blueprints:  # IVR_SOFTPHONE=1
        console.print(f"Softphone: {base}/phone", soft_wrap=True)
    if not current_app.config["IVR_AUTH_TOKEN"]:
        console.print("[yellow]IVR_AUTH_TOKEN is not set: webhook signatures are not checked.[/]")
    _speech_note()
    older = f", {len(keys.ids) - 1} older still accepted" if len(keys.ids) > 1 else ""
    console.print(f"PIN key: {keys.current_id} from {escape(keys.source)}{older}", soft_wrap=True)
    json_logs = str(current_app.config["IVR_LOG_FORMAT"]).strip().lower() == "json"
    factory = hotline().factory
    run_gunicorn(host, port, workers, threads=threads, factory=factory, json_logs=json_logs)
