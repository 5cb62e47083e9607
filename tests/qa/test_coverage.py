"""Menu coverage from real calls on the demo hotline, and from a small menu of our own.

Coverage sums the engine's trace that each answer carries; these tests check it counts what
the calls did, and that on the shipped scripts it gives the numbers the old coverage walk
(re-derived from request URLs and reply TwiML) gave, kept in calls_coverage.json.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from ivr.config import SETTINGS
from ivr.core.model import Menu
from ivr.menu.load import load_menu
from ivr.qa.coverage import (
    INPUT,
    INVALID,
    INVALID_LIMIT,
    NO_INPUT_LIMIT,
    TIMEOUT,
    Coverage,
    PathItem,
    coverage,
    menu_paths,
)
from ivr.qa.load import find_scripts, load_script
from ivr.qa.model import Outcome
from ivr.qa.run import run_script
from ivr.sim.caller import Caller
from ivr.sim.turns import Turn, TurnKind
from tests.conftest import Clock

MENU = load_menu(SETTINGS["IVR_MENU"][0])
PROMPTS = Path(SETTINGS["IVR_MENU"][0]).parent
WANG_ID = "65010219680312109*#"
WANG_PIN = "135790#"
BALANCE = ["2", WANG_ID, WANG_PIN, "1"]
EXPECTED = json.loads((Path(__file__).parent / "calls_coverage.json").read_text("utf-8"))
SCRIPTS = find_scripts([Path(__file__).parents[1] / "calls"])


def call(caller: Caller, actions: Sequence[str]) -> list[Turn]:
    """Dial, then press each entry ("t" lets the Gather time out); the call's transcript."""
    caller.dial()
    for action in actions:
        if action == "t":
            caller.silence()
        else:
            caller.press(action)
    return caller.transcript


def covered(caller: Caller, actions: Sequence[str], menu: Menu = MENU) -> Coverage:
    """The coverage of one call."""
    return coverage(menu, [call(caller, actions)])


def test_a_balance_call_reaches_each_node_on_its_way(caller: Caller) -> None:
    measured = covered(caller, BALANCE)
    # medical is reached after verification, and again when the balance returns to it.
    assert dict(measured.nodes) == {
        "welcome": 1, "main": 1, "language": 0, "social": 0, "medical": 2, "balance": 1,
        "family": 0, "statement": 0, "ask_id": 1, "ask_pin": 1, "agent": 0,
    }  # fmt: skip
    hit = {(item.node, item.path) for item in measured.paths if item.hits}
    assert hit == {
        ("main", "key 2 -> medical"),
        ("medical", "key 1 -> balance"),
        ("ask_id", INPUT),
        ("ask_pin", INPUT),
    }
    assert measured.unreached == ["language", "social", "family", "statement", "agent"]


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["5"], {("main", INVALID): 1, ("main", INVALID_LIMIT): 0}),
        (["t"], {("main", TIMEOUT): 1, ("main", NO_INPUT_LIMIT): 0}),
        (["t", "t", "t"], {("main", TIMEOUT): 3, ("main", NO_INPUT_LIMIT): 1}),
        (["5", "#", "8"], {("main", INVALID): 3, ("main", INVALID_LIMIT): 1}),
        # A valid key clears both in-a-row counts, as the engine does.
        (
            ["t", "t", "*", "t"],
            {("main", TIMEOUT): 3, ("main", "key * -> repeat"): 1, ("main", NO_INPUT_LIMIT): 0},
        ),  # fmt: skip
        (["5", "5", "*", "5"], {("main", INVALID): 3, ("main", INVALID_LIMIT): 0}),
        # A refused ID is asked again: an invalid entry there, not a step on to the PIN.
        (["2", "6501021968#", WANG_ID], {("ask_id", INPUT): 2, ("ask_id", INVALID): 1}),
        (["2", "t", "t", "t"], {("ask_id", TIMEOUT): 3, ("ask_id", NO_INPUT_LIMIT): 1}),
        (["2", "1#", "2#", "3#"], {("ask_id", INVALID): 3, ("ask_id", INVALID_LIMIT): 1}),
        (["2", WANG_ID, "1234#"], {("ask_pin", INVALID): 1, ("ask_pin", INPUT): 1}),
        # Invalid counts run on across nodes until a valid entry.
        (
            ["5", "2", "9#", "9#"],
            {("main", INVALID): 1, ("ask_id", INVALID): 2, ("ask_id", INVALID_LIMIT): 0},
        ),  # fmt: skip
        ([*BALANCE, "#", "9"], {("medical", "key # -> main"): 1, ("main", "key 9 -> language"): 1}),
    ],
)
def test_paths_taken(caller: Caller, actions: list[str], expected: dict) -> None:
    measured = covered(caller, actions)
    assert {key: measured.hits(*key) for key in expected} == expected


@pytest.mark.parametrize(
    ("actions", "reached"),
    [
        ([], {"welcome": 1, "main": 1}),
        (["*", "5", "t"], {"welcome": 1, "main": 1}),  # asked again: not a new arrival
        (["9"], {"main": 2, "language": 1}),
        (["0"], {"main": 1, "agent": 1}),  # 10:00 on a Wednesday: transferred
        (["2", WANG_ID, "000000#"], {"ask_id": 2, "ask_pin": 1, "medical": 0}),
        (["1", WANG_ID, WANG_PIN], {"social": 1, "main": 2, "medical": 0}),
        (["1", WANG_ID, WANG_PIN, "2", "2"], {"social": 1, "medical": 2, "family": 1}),
    ],
)
def test_nodes_reached(caller: Caller, actions: list[str], reached: dict[str, int]) -> None:
    measured = covered(caller, actions)
    assert {name: measured.nodes[name] for name in reached} == reached


def test_agent_outside_hours_reads_them_and_returns(caller: Caller, clock) -> None:
    clock.set("2026-11-25T20:00")
    measured = covered(caller, ["0", "0"])
    assert measured.nodes["agent"] == 2 and measured.nodes["main"] == 3
    assert measured.hits("main", "key 0 -> agent") == 2


def test_a_welcome_only_call_leaves_the_services_unreached(caller: Caller) -> None:
    caller.dial()
    caller.hangup()
    measured = coverage(MENU, [caller.transcript])
    assert {"social", "family", "medical", "balance", "ask_id", "ask_pin"} <= set(
        measured.unreached
    )
    assert "welcome" not in measured.unreached and "main" not in measured.unreached
    assert measured.percent == 0.0
    assert measured.missed_paths() == list(measured.paths)


def test_coverage_adds_up_over_calls(make_caller: Callable[..., Caller]) -> None:
    transcripts = [call(make_caller(), BALANCE), call(make_caller(), ["t", "t", "t"])]
    measured = coverage(MENU, transcripts)
    assert measured.nodes["welcome"] == 2 and measured.nodes["balance"] == 1
    assert measured.hits("main", NO_INPUT_LIMIT) == 1
    taken = sum(1 for item in measured.paths if item.hits)
    # Four paths on the way to the balance, then the timeout and the no-input limit.
    assert taken == 6 and measured.percent == pytest.approx(100 * 6 / len(measured.paths))


def test_only_the_trace_counts_not_the_urls_or_replies(caller: Caller) -> None:
    transcript = call(caller, [*BALANCE, "2", "#", "t"])
    bare = [replace(turn, twiml=None, url=None, form=None) for turn in transcript]
    assert coverage(MENU, [bare]) == coverage(MENU, [transcript])


def test_turns_without_a_trace_count_for_nothing(caller: Caller) -> None:
    """A hotline that sends no trace header: its calls reach no node and take no path."""
    transcript = call(caller, [*BALANCE, "t"])
    untraced = coverage(MENU, [[replace(turn, trace=None) for turn in transcript]])
    assert set(untraced.nodes.values()) == {0} and untraced.percent == 0.0
    assert coverage(MENU, [transcript]).nodes["balance"] == 1


@pytest.mark.parametrize(
    ("when", "expected"),
    [("2026-11-25T10:00", "agents_open"), ("2026-11-25T20:00", "agents_closed")],
)
def test_the_shipped_scripts_count_as_recorded(
    make_caller: Callable[..., Caller], clock: Clock, when: str, expected: str
) -> None:
    """Node and path hits of tests/calls, in and out of agent hours, as calls_coverage.json
    records them."""
    clock.set(when)
    scripts = [load_script(path) for path in SCRIPTS]
    results = [run_script(script, make_caller(from_=script.caller)) for script in scripts]
    assert all(result.outcome == Outcome.PASSED for result in results)
    measured = coverage(MENU, [result.transcript for result in results])
    assert dict(measured.nodes) == EXPECTED[expected]["nodes"]
    assert [[i.node, i.path, i.hits] for i in measured.paths] == EXPECTED[expected]["paths"]


def test_other_requests_and_failed_ones_are_ignored(caller: Caller) -> None:
    transcript = call(caller, ["2"])
    extra = [
        Turn(TurnKind.REQUEST, url="http://localhost/voice/status", method="POST", status=204),
        Turn(TurnKind.REQUEST, url="http://localhost/audio/abc.wav", method="GET", status=200),
        Turn(
            TurnKind.REQUEST,
            url="http://localhost/voice/keys?node=main&seq=9",
            method="POST",
            form={"Digits": "1"},
            status=500,
            twiml="",
        ),  # fmt: skip
        Turn(
            TurnKind.REQUEST,
            url="http://localhost/voice/keys?node=gone&seq=9",
            method="POST",
            form={"Digits": "1"},
            status=200,
            twiml="<Response/>",
        ),  # fmt: skip
    ]
    assert coverage(MENU, [transcript + extra]) == coverage(MENU, [transcript])


def test_a_path_prefix_in_front_of_the_hotline_is_understood(caller: Caller) -> None:
    transcript = call(caller, ["5"])
    moved = [
        replace(t, url=t.url.replace("localhost/voice", "example.org/ivr/voice")) if t.url else t
        for t in transcript
    ]
    assert coverage(MENU, [moved]).hits("main", INVALID) == 1


TINY = """\
name: tiny
language: zh-CN
prompts: {zh-CN: zh-CN.yaml, en-US: en-US.yaml}
start: hello
identify: ask_id
limits: {no_input: 2}
nodes:
  hello: {type: say, prompt: welcome, next: top}
  top:
    type: menu
    prompt: main_menu
    options: {"1": bye, "3": info, "*": repeat}
  info: {type: say, prompt: welcome, next: top}
  bye: {type: hangup, prompt: goodbye}
  ask_id: {type: input, field: id, prompt: ask_id, next: ask_pin}
  ask_pin: {type: input, field: pin, prompt: ask_pin}
"""


@pytest.fixture
def tiny_menu(tmp_path: Path) -> Path:
    """A small menu of our own, next to copies of the hotline's prompt files."""
    for name in ("zh-CN.yaml", "en-US.yaml"):
        shutil.copy(PROMPTS / name, tmp_path / name)
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    return tmp_path / "tiny.yaml"


def test_menu_paths_follow_the_tree(tiny_menu: Path) -> None:
    failures = [TIMEOUT, INVALID, NO_INPUT_LIMIT, INVALID_LIMIT]
    assert menu_paths(load_menu(tiny_menu)) == [
        ("top", "key 1 -> bye"), ("top", "key 3 -> info"), ("top", "key * -> repeat"),
        *[("top", path) for path in failures],
        ("ask_id", INPUT), *[("ask_id", path) for path in failures],
        ("ask_pin", INPUT), *[("ask_pin", path) for path in failures],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("actions", "nodes", "hits"),
    [
        (["3", "1"], {"hello": 1, "top": 2, "info": 1, "bye": 1}, {("top", "key 3 -> info"): 1}),
        (["t", "t"], {"hello": 1, "top": 1, "bye": 0}, {("top", NO_INPUT_LIMIT): 1}),
    ],
)
def test_coverage_of_a_changed_tree(
    make_app, make_caller, tiny_menu: Path, actions: list[str], nodes: dict, hits: dict
) -> None:
    menu = load_menu(tiny_menu)
    measured = covered(make_caller(make_app(IVR_MENU=str(tiny_menu))), actions, menu)
    assert list(measured.nodes) == ["hello", "top", "info", "bye", "ask_id", "ask_pin"]
    assert {name: measured.nodes[name] for name in nodes} == nodes
    assert {key: measured.hits(*key) for key in hits} == hits
    assert len(measured.paths) == len(menu_paths(menu)) == 3 + 4 * 3 + 2


def test_path_items_and_percent_by_hand() -> None:
    measured = Coverage({"a": 1, "b": 0}, (PathItem("a", TIMEOUT, 2), PathItem("a", INVALID, 0)))
    assert measured.percent == 50.0
    assert measured.unreached == ["b"]
    assert measured.missed_paths() == [PathItem("a", INVALID, 0)]
    assert measured.hits("a", TIMEOUT) == 2 and measured.hits("zz", TIMEOUT) == 0
    assert Coverage({}, ()).percent == 100.0


def test_failed_verifications_and_a_locked_account_never_reach_the_service(
    make_caller: Callable[..., Caller],
) -> None:
    wrong = ["2", WANG_ID, "000000#", WANG_ID, "000001#", WANG_ID, "000002#"]
    first = covered(make_caller(), wrong)  # the third failure ends the call and locks
    assert (first.nodes["ask_id"], first.nodes["ask_pin"], first.nodes["medical"]) == (3, 3, 0)
    assert (first.hits("ask_pin", INPUT), first.hits("ask_pin", INVALID_LIMIT)) == (3, 0)
    later = covered(make_caller(), ["2", WANG_ID, WANG_PIN, "2"])  # locked: back to main
    assert (later.nodes["main"], later.nodes["medical"]) == (2, 0)
    assert later.hits("main", "key 2 -> medical") == 2 and later.nodes["ask_id"] == 2
