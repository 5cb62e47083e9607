"""`calls list` and `calls show`: real calls through the app, then the operator's view of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ivr import create_app
from ivr.cli.records import mask_phone
from store.demo import WANG_JIANGUO

WANG_KEYED = WANG_JIANGUO[:-1] + "*"
WANG_PIN = "135790"
WANG_MASKED = "**************109X"
CALLER = "+8613800138000"  # the simulator's default From
OTHER = "+8613912345678"
# Stored as production stores it: the app's clock in UTC. 02:00 UTC is 10:00 in Shanghai.
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
STATUS_URL = "http://localhost/voice/status"
# Everything an operator must never see: ID as stored and as keyed, card, PIN, name, number.
SECRETS = (WANG_JIANGUO, WANG_KEYED, "65010219680312109", "650100017", WANG_PIN, "王建国",
           CALLER, CALLER[1:], "13800138000", OTHER[1:])  # fmt: skip


@pytest.fixture
def sids(app, make_caller, clock) -> dict[str, str]:
    """Three real calls: a verified balance call that ended, a half-done one, an English one."""
    clock.now = START
    balance = make_caller(status_callback=STATUS_URL)  # its hang-up is reported, as by Twilio
    balance.dial()
    for keys in ("2", WANG_KEYED + "#", WANG_PIN + "#", "1"):
        balance.press(keys)
    clock.now = START + timedelta(seconds=65)
    balance.hangup()
    clock.now = START + timedelta(minutes=30)
    unfinished = make_caller()  # identified but never verified: no person may be shown
    unfinished.dial()
    unfinished.press("2")
    unfinished.press(WANG_KEYED + "#")
    clock.now = START + timedelta(hours=3)
    english = make_caller(from_=OTHER)
    english.dial()
    english.press("9")
    return {"balance": balance.call_sid, "unfinished": unfinished.call_sid,
            "english": english.call_sid}  # fmt: skip


def run(app, *args: str):
    """Run `calls ARGS` on the app's CLI."""
    return app.test_cli_runner().invoke(args=["calls", *args])


def listed(app, *args: str) -> list[str]:
    """The CallSids `calls list --json ARGS` prints, in its order."""
    result = run(app, "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return [call["call_sid"] for call in json.loads(result.output)]


def table_rows(output: str) -> list[list[str]]:
    """The cells of every rich table row in the output."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines()
            if line.startswith("│")]  # fmt: skip


def test_list_shows_every_call_newest_first_and_masked(app, sids) -> None:
    result = run(app, "list")
    assert result.exit_code == 0, result.output
    rows = {row[0]: row[1:] for row in table_rows(result.output)}
    assert list(rows) == [sids["english"], sids["unfinished"], sids["balance"]]
    assert rows[sids["balance"]] == ["2026-11-25 10:00:00", "1m05s", "+86138****8000", "zh-CN",
                                     "medical", "yes", "yes", WANG_MASKED, "6",
                                     "status completed"]  # fmt: skip
    assert rows[sids["unfinished"]] == ["2026-11-25 10:30:00", "0s", "+86138****8000", "zh-CN",
                                        "ask_pin", "no", "no", "-", "3",
                                        "id entered; identified"]  # fmt: skip
    assert rows[sids["english"]][:5] == ["2026-11-25 13:00:00", "0s", "+86139****5678", "en-US",
                                         "main"]  # fmt: skip


def test_show_prints_the_header_and_the_masked_event_log(app, sids) -> None:
    result = run(app, "show", sids["balance"])
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output)
    header = {row[0]: row[1] for row in rows if len(row) == 2}
    assert header["CallSid"] == sids["balance"] and header["started"] == "2026-11-25 10:00:00"
    assert (header["caller"], header["person"]) == ("+86138****8000", WANG_MASKED)
    assert (header["verified"], header["ended"], header["duration"]) == ("yes", "yes", "1m05s")
    assert [row for row in rows if len(row) == 5] == [
        ["1", "2026-11-25 10:00:00", "welcome", "-", "start"],
        ["2", "2026-11-25 10:00:00", "main", "2", "key 2"],
        ["3", "2026-11-25 10:00:00", "ask_id", "**************109*", "id entered; identified"],
        ["4", "2026-11-25 10:00:00", "ask_pin", "******", "pin entered; verified"],
        ["5", "2026-11-25 10:00:00", "medical", "1", "key 1"],
        # The status callback logs the call's end under its last seq.
        ["5", "2026-11-25 10:01:05", "medical", "-", "status completed"],
    ]


@pytest.mark.parametrize(
    "args",
    [("list",), ("list", "--json"), ("show", "balance"), ("show", "balance", "--json"),
     ("show", "unfinished"), ("list", "--caller", CALLER), ("list", "--since", "1d")],
)  # fmt: skip
def test_nothing_unmasked_ever_leaks(app, sids, args) -> None:
    result = run(app, *(sids.get(arg, arg) for arg in args))
    assert result.exit_code == 0, result.output
    leaked = [secret for secret in SECRETS if secret in result.output]
    assert leaked == [], result.output
    assert "****" in result.output  # the masked forms are what is shown instead


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("2026-11-25", ["english", "unfinished", "balance"]),
        ("2026-11-25T10:15", ["english", "unfinished"]),
        ("2026-11-25 13:00", ["english"]),
        ("2026-11-26", []),
        ("2026-11-25T02:15+00:00", ["english", "unfinished"]),  # an explicit offset is kept
        ("1h", ["english"]),  # ages count back from the app's clock: 13:00 Shanghai
        ("150m", ["english", "unfinished"]),  # 10:30, the unfinished call's start, included
        ("3h", ["english", "unfinished", "balance"]),
        ("1D", ["english", "unfinished", "balance"]),
    ],
)
def test_since_takes_dates_local_times_and_ages(app, sids, since, expected) -> None:
    assert listed(app, "--since", since) == [sids[name] for name in expected]


@pytest.mark.parametrize("since", ["yesterday", "2h30", "-1h", "2026-13-01", "999999w", ""])
def test_a_bad_since_is_refused_with_an_example(app, since) -> None:
    result = run(app, "list", "--since", since)
    assert result.exit_code == 2
    assert "--since" in result.output and "e.g. 2026-11-25" in result.output


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (CALLER, ["unfinished", "balance"]),
        ("8613800138000", ["unfinished", "balance"]),
        ("+86 138-0013-8000", ["unfinished", "balance"]),
        (" 86 139 1234 5678 ", ["english"]),
        ("+8613800138001", []),
        ("13800138000", []),  # exact: the stored number has its country code
    ],
)
def test_caller_filters_by_the_exact_number(app, sids, number, expected) -> None:
    assert listed(app, "--caller", number) == [sids[name] for name in expected]


@pytest.mark.parametrize("number", ["abc", "+86x138", "++86138", ""])
def test_a_bad_caller_is_refused(app, number) -> None:
    result = run(app, "list", "--caller", number)
    assert result.exit_code == 2 and "--caller" in result.output


@pytest.mark.parametrize(
    ("limit", "expected"), [("1", ["english"]), ("2", ["english", "unfinished"])]
)
def test_limit_keeps_the_newest(app, sids, limit, expected) -> None:
    assert listed(app, "--limit", limit) == [sids[name] for name in expected]


def test_limit_must_be_positive(app) -> None:
    assert run(app, "list", "--limit", "0").exit_code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [((), "No calls recorded yet."), (("--caller", CALLER), "No calls match.")],
)
def test_no_calls_is_one_friendly_line(app, args, message) -> None:
    result = run(app, "list", *args)
    assert (result.exit_code, result.output) == (0, message + "\n")
    assert run(app, "list", "--json").output.strip() == "[]"


def test_list_json_has_every_column(app, sids) -> None:
    calls = json.loads(run(app, "list", "--json").output)
    balance = next(c for c in calls if c["call_sid"] == sids["balance"])
    assert balance == {
        "call_sid": sids["balance"], "started": "2026-11-25T10:00:00+08:00",
        "updated": "2026-11-25T10:01:05+08:00", "duration_s": 65, "caller": "+86138****8000",
        "lang": "zh-CN", "node": "medical", "ended": True, "verified": True,
        "person": WANG_MASKED, "events": 6, "last_outcome": "status completed",
    }  # fmt: skip


def test_show_json_has_the_header_and_the_log(app, sids) -> None:
    result = run(app, "show", sids["unfinished"], "--json")
    call = json.loads(result.output)
    assert (call["verified"], call["person"], call["node"]) == (False, "", "ask_pin")
    assert [(e["seq"], e["node"], e["input"]) for e in call["log"]] == [
        (1, "welcome", ""), (2, "main", "2"), (3, "ask_id", "**************109*")
    ]  # fmt: skip
    assert call["log"][0]["at"] == "2026-11-25T10:30:00+08:00"


def test_an_unknown_call_sid_exits_1(app, sids) -> None:
    result = run(app, "show", "CA" + "0" * 32)
    assert result.exit_code == 1
    assert result.output == f"No call CA{'0' * 32} on file.\n"


@pytest.mark.parametrize("call_sid", ["CA/../x", "CA 12", "C" * 65, "CA;drop", ""])
def test_a_malformed_call_sid_is_a_bad_parameter(app, call_sid) -> None:
    result = run(app, "show", call_sid)
    assert result.exit_code == 2 and "Invalid value for CALLSID" in result.output


@pytest.mark.parametrize("args", [("list",), ("show", "CA0001")])
def test_a_database_failure_is_one_line(tmp_path, args) -> None:
    # A database without the tables: the command must say so, not print a traceback.
    app = create_app({"TESTING": True, "IVR_SPEECH": "say",
                      "IVR_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})  # fmt: skip
    try:
        result = run(app, *args)
    finally:
        app.extensions["ivr"].engine.dispose()
    assert result.exit_code == 1
    assert result.output == "Error: database error: no such table: calls\n"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+8613800138000", "+86138****8000"),
        ("13800138000", "138****8000"),
        ("+14155550123", "+141****0123"),
        ("12345678", "12****78"),
        ("12333", "****3"),
        ("1234", "****"),
        ("anonymous", "*********"),
        ("", ""),
    ],
)
def test_mask_phone_hides_at_least_four_digits(number, masked) -> None:
    assert mask_phone(number) == masked


def test_the_commands_are_in_the_calls_group(app) -> None:
    result = run(app, "--help")
    assert result.exit_code == 0
    assert all(name in result.output for name in ("list", "show", "run"))
