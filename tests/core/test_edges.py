"""The one declaration of a menu's edges, the engine following it, and its trace on the wire."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ivr.core.edges import Edge, EdgeKind, edges, waits
from ivr.core.engine import step
from ivr.core.events import CallState, Env, Keys, Reached, Silence, Took
from ivr.core.model import Key
from ivr.core.trace import decode, encode
from ivr.menu.load import load_menu

ROOT = Path(__file__).resolve().parents[2]
MENU = load_menu(ROOT / "prompts" / "12333.yaml")
ENV = Env(today=date(2026, 11, 25), agents_open=True, agent_hours_text={})


def failures(node: str) -> list[Edge]:
    """The four failure edges of a waiting node: two ask again, two end at a limit."""
    return [Edge(node, EdgeKind.TIMEOUT, node), Edge(node, EdgeKind.INVALID, node),
            Edge(node, EdgeKind.NO_INPUT_LIMIT, None),
            Edge(node, EdgeKind.INVALID_LIMIT, None)]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("welcome", [Edge("welcome", EdgeKind.NEXT, "main")]),
        ("medical", [
            Edge("medical", EdgeKind.OPTION, "balance", Key.ONE),
            Edge("medical", EdgeKind.OPTION, "family", Key.TWO),
            Edge("medical", EdgeKind.OPTION, "statement", Key.THREE),
            Edge("medical", EdgeKind.OPTION, "agent", Key.ZERO),
            Edge("medical", EdgeKind.REPEAT, "medical", Key.STAR),
            Edge("medical", EdgeKind.OPTION, "main", Key.HASH),
            # Phrases said lead where the keys do (重听 stays), and to the agent from anywhere.
            *(Edge("medical", EdgeKind.SPEECH, target)
              for target in ("balance", "family", "statement", "agent", "medical", "main")),
            Edge("medical", EdgeKind.GATE, "ask_id"),
            *failures("medical"),
        ]),
        ("balance", [Edge("balance", EdgeKind.NEXT, "medical"),
                     Edge("balance", EdgeKind.GATE, "ask_id")]),
        # The statement waits after each page: 1 stays for the next page, * for this one.
        ("statement", [Edge("statement", EdgeKind.MORE, "statement", Key.ONE),
                       Edge("statement", EdgeKind.REPEAT, "statement", Key.STAR),
                       Edge("statement", EdgeKind.OPTION, "medical", Key.HASH),
                       Edge("statement", EdgeKind.GATE, "ask_id"), *failures("statement")]),
        # Where an entry leads is known once it is checked: the PIN's is the held node.
        ("ask_id", [Edge("ask_id", EdgeKind.INPUT, None), Edge("ask_id", EdgeKind.NEXT, "ask_pin"),
                    *failures("ask_id")]),
        ("ask_pin", [Edge("ask_pin", EdgeKind.INPUT, None), *failures("ask_pin")]),
        ("agent", []),
    ],
)  # fmt: skip
def test_edges_of_each_kind_of_node(name: str, expected: list[Edge]) -> None:
    assert list(edges(MENU, MENU.nodes[name])) == expected


def test_the_statements_paging_keys_are_named_for_what_they_do() -> None:
    named = [edge.path for edge in edges(MENU, MENU.nodes["statement"])][:3]
    assert named == ["key 1 -> more", "key * -> repeat", "key # -> medical"]


def test_edges_are_named_as_coverage_names_paths() -> None:
    named = [edge.path for edge in edges(MENU, MENU.nodes["main"])]
    assert named == [
        "key 1 -> social", "key 2 -> medical", "key 0 -> agent", "key 9 -> language",
        "key * -> repeat", "say -> social", "say -> medical", "say -> agent", "say -> language",
        "say -> repeat", "say -> balance", "say -> family", "say -> statement",  # deep links
        "timeout", "invalid key", "no-input limit", "invalid limit",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "edge",
    [e for node in MENU.nodes.values() for e in edges(MENU, node) if e.key is not None],
    ids=lambda e: f"{e.node} {e.key}",
)
def test_the_engine_takes_each_key_where_its_edge_leads(edge: Edge) -> None:
    """The engine follows the declaration: a key goes where its edge says, and says so."""
    state = CallState(node=edge.node, menu=edge.node, verified=True, person_id=7)
    after, actions = step(MENU, state, Keys(edge.key, ENV))
    assert Took(edge.node, edge.path) in actions
    assert after.node == edge.target or Reached(edge.target) in actions


@pytest.mark.parametrize("name", [n for n, node in MENU.nodes.items() if waits(node)])
@pytest.mark.parametrize(
    ("event", "taken"),
    [
        (Silence(ENV), {"timeout", "no-input limit"}),
        (Keys("12", ENV), {"invalid key", "invalid limit"}),
    ],
)
def test_the_engine_takes_the_failure_edges_it_declares(name: str, event, taken: set) -> None:
    """At the limits, the paths the engine names are the ones the node declares."""
    declared = {e.path for e in edges(MENU, MENU.nodes[name])}
    limits = MENU.limits
    state = CallState(node=name, menu=name, no_input=limits.no_input - 1,
                      invalid=limits.invalid - 1)  # fmt: skip
    _, actions = step(MENU, state, event)
    named = {a.path for a in actions if isinstance(a, Took) and a.node == name}
    assert named - {"input"} == taken and named <= declared


def test_the_trace_header_round_trips_any_name() -> None:
    traced = [Reached("main"), Took("main", "key 2 -> medical"), Took("a,b:c", "key # -> 主 +%")]
    value = encode([*traced, Keys("123456", ENV)])  # anything but the trace is left out
    assert value.startswith("main, main:key+2+->+medical, a%2Cb%3Ac:key+#+->+")
    assert value.isascii() and "123456" not in value
    assert decode(value) == tuple(traced)
    assert decode("") == () and encode([]) == ""
