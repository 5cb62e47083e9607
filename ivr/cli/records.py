"""`calls list` and `calls show`: the call records for operators, every number masked."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.errors import database_errors
from ivr.config import SHANGHAI
from ivr.web.context import CALL_SID, hotline
from store import call_log
from store.call_log import CallRow
from store.id_numbers import mask_id

console = Console()
SINCE_EXAMPLE = "use a date, a local time or an age, e.g. 2026-11-25, 2026-11-25T08:30, 30m, 2h, 1d"
_AGE = re.compile(r"([0-9]{1,6})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PHONE = re.compile(r"\+?[0-9]{1,20}")
_SEPARATORS = re.compile(r"[\s\-().]")
_TIME = "%Y-%m-%d %H:%M:%S"
HEADINGS = ("CallSid", "started", "duration", "caller", "lang", "node", "ended", "verified",
            "person", "events", "last outcome")  # fmt: skip


@dataclass(frozen=True)
class CallRecord:
    """One call as an operator may see it: the caller's number and the ID masked."""

    call_sid: str
    started: datetime
    updated: datetime
    caller: str
    lang: str
    node: str
    ended: bool
    verified: bool
    person: str  # the verified person's masked ID, or ""
    events: int
    last_outcome: str

    @property
    def duration_s(self) -> int:
        """Seconds from the first webhook to the last update."""
        return max(0, int((self.updated - self.started).total_seconds()))


@dataclass(frozen=True)
class EventRecord:
    """One step of a call's event log; the input was masked before it was stored."""

    seq: int
    at: datetime
    node: str
    input: str
    outcome: str


def mask_phone(number: str) -> str:
    """Mask a caller number: keep the country code and 3 digits, and the last 4, at most."""
    if not _PHONE.fullmatch(number):
        return "*" * min(len(number), 16)  # an anonymous or SIP caller: nothing to keep
    plus, digits = ("+", number[1:]) if number.startswith("+") else ("", number)
    size = len(digits)
    tail = max(0, min(4, (size - 3) // 2))  # short numbers keep less, and always hide 4
    head = max(0, min(5 if plus else 3, size - tail - 4))
    return plus + digits[:head] + "*" * (size - head - tail) + digits[size - tail :]


def parse_since(value: str, now: datetime) -> datetime:
    """An ISO date or local time (Asia/Shanghai), or an age like 30m, 2h, 1d before `now`."""
    text = value.strip()
    try:
        age = _AGE.fullmatch(text.lower())
        if age:
            return now - timedelta(**{_UNITS[age[2]]: int(age[1])})
        when = datetime.fromisoformat(text)
        return (when if when.tzinfo else when.replace(tzinfo=SHANGHAI)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{value!r}: {SINCE_EXAMPLE}", param_hint="--since") from None


def caller_numbers(value: str) -> tuple[str, str]:
    """The stored forms a typed caller number may have: with and without the leading +."""
    number = _SEPARATORS.sub("", value)
    if not _PHONE.fullmatch(number):
        raise click.BadParameter(f"{value!r}: expected a phone number, e.g. +8613800138000",
                                 param_hint="--caller")  # fmt: skip
    digits = number.lstrip("+")
    return "+" + digits, digits


def _local(value: datetime) -> datetime:
    """A stored time in Asia/Shanghai; SQLite drops the zone of the UTC times it is given."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(SHANGHAI)


def _record(row: CallRow) -> CallRecord:
    """A call row as a masked record; the person shows only once the caller was verified."""
    return CallRecord(
        call_sid=row.call_sid,
        started=_local(row.started_at),
        updated=_local(row.updated_at),
        caller=mask_phone(row.from_number),
        lang=hotline().menu.speaks(row.lang),
        node=row.node,
        ended=row.ended,
        verified=row.verified,
        person=mask_id(row.id_number) if row.verified and row.id_number else "",
        events=row.events,
        last_outcome=row.last_outcome or "",
    )


def find_calls(session: Session, since: datetime | None, numbers: tuple[str, ...],
               limit: int, call_sid: str | None = None) -> list[CallRecord]:  # fmt: skip
    """The calls that match, newest first, with their event count and last outcome."""
    return [_record(row) for row in call_log.find_calls(session, since, numbers, limit, call_sid)]


def find_events(session: Session, call_sid: str) -> list[EventRecord]:
    """A call's event log in the order it was written."""
    rows = call_log.find_events(session, call_sid)
    return [EventRecord(e.seq, _local(e.at), e.node, e.input_masked, e.outcome) for e in rows]


def _duration(seconds: int) -> str:
    """A duration as 45s, 3m05s or 1h02m."""
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _yes(flag: bool) -> str:
    """yes or no."""
    return "yes" if flag else "no"


def _row(record: CallRecord) -> list[str]:
    """A record's table cells, escaped for rich markup."""
    cells = [record.call_sid, f"{record.started:{_TIME}}", _duration(record.duration_s),
             record.caller or "-", record.lang, record.node, _yes(record.ended),
             _yes(record.verified), record.person or "-", str(record.events),
             record.last_outcome or "-"]  # fmt: skip
    return [escape(cell) for cell in cells]


def _print_whole(table: Table) -> None:
    """Print a table at its natural width: a CallSid cut or wrapped could not be copied."""
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    Console(width=max(console.width, natural), highlight=False).print(table)


def _echo_json(payload: Any) -> None:
    """Print JSON for scripts: times as ISO 8601 with their +08:00 offset."""
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=_iso))


def _iso(value: object) -> str:
    """json.dumps' fallback for datetimes."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _as_json(record: CallRecord) -> dict[str, Any]:
    """A record as a JSON object, its duration included."""
    return {**asdict(record), "duration_s": record.duration_s}


@click.command("list")
@click.option("--since", metavar="WHEN",
              help="Calls started since WHEN: 2026-11-25, 2026-11-25T08:30 (Asia/Shanghai), "
                   "or an age: 30m, 2h, 1d.")  # fmt: skip
@click.option("--caller", metavar="NUMBER", help="Only calls from this number (+ optional).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000),
              help="At most this many calls.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@with_appcontext
@database_errors
def list_calls(since: str | None, caller: str | None, limit: int, as_json: bool) -> None:
    """List recorded calls, newest first; caller numbers and IDs are masked."""
    start = parse_since(since, hotline().clock()) if since is not None else None
    numbers = caller_numbers(caller) if caller is not None else ()
    with hotline().sessions() as session:
        records = find_calls(session, start, numbers, limit)
    if as_json:
        _echo_json([_as_json(r) for r in records])
        return
    if not records:
        console.print("No calls match." if since or caller else "No calls recorded yet.")
        return
    table = Table(title=f"{len(records)} call(s), newest first, Asia/Shanghai time")
    for heading in HEADINGS:
        table.add_column(heading, no_wrap=True, justify="right" if heading == "events" else "left")
    for record in records:
        table.add_row(*_row(record))
    _print_whole(table)


@click.command("show")
@click.argument("call_sid", metavar="CALLSID")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of tables.")
@with_appcontext
@database_errors
def show_call(call_sid: str, as_json: bool) -> None:
    """Show one call and its event log; inputs are shown as stored (masked)."""
    if not CALL_SID.fullmatch(call_sid):
        raise click.BadParameter("expected a Twilio CallSid such as CA0123…ef (letters, digits, "
                                 "_ and -, at most 64)", param_hint="CALLSID")  # fmt: skip
    with hotline().sessions() as session:
        found = find_calls(session, None, (), 1, call_sid=call_sid)
        events = find_events(session, call_sid) if found else []
    if not found:
        console.print(f"[red]No call {escape(call_sid)} on file.[/]")
        raise SystemExit(1)
    if as_json:
        _echo_json({**_as_json(found[0]), "log": [asdict(e) for e in events]})
    else:
        _print_call(found[0], events)


def _print_call(record: CallRecord, events: list[EventRecord]) -> None:
    """A call's header as field/value rows, then its event log."""
    header = Table(title=f"Call {escape(record.call_sid)}", show_header=False)
    header.add_column(style="bold")
    header.add_column(no_wrap=True)
    for heading, cell in zip(HEADINGS, _row(record), strict=True):
        header.add_row(heading, cell)
    _print_whole(header)
    log = Table(title="Event log, Asia/Shanghai time")
    for heading in ("seq", "time", "node", "input", "outcome"):
        log.add_column(heading, no_wrap=True, justify="right" if heading == "seq" else "left")
    for e in events:
        log.add_row(
            str(e.seq), f"{e.at:{_TIME}}", *(escape(c or "-") for c in (e.node, e.input, e.outcome))
        )
    _print_whole(log)


def add_record_commands(group: click.Group) -> None:
    """Attach `list` and `show` to the `calls` group (ivr/cli/calls.py calls this)."""
    group.add_command(list_calls)
    group.add_command(show_call)
