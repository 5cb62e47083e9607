"""The engine's small building blocks: what a call says, the trace of a path, counters.

Pure helpers of ivr.core.engine, which none of them call back into.
"""

from __future__ import annotations

from dataclasses import replace

from ivr.core.edges import Edge, EdgeKind, failure, waits
from ivr.core.events import Action, CallState, Fetch, Note, Result, Say, Took
from ivr.core.listen import audible
from ivr.core.model import Key, Menu, Node


def call_lang(menu: Menu, state: CallState) -> str:
    """The language the call is in."""
    return menu.speaks(state.lang)


def say(menu: Menu, state: CallState, prompt: str, **fields: object) -> Say:
    """A prompt in the call's language, spoken by the voice the prompt names."""
    found = menu.prompt(prompt, state.lang)
    return Say(found.text.format(**fields), found.lang)


def says(menu: Menu, state: CallState, node: Node) -> tuple[Say, ...]:
    """A node's prompts in order (a speech hint only where the menu listens)."""
    return tuple(say(menu, state, name) for name in node.prompts if audible(menu, name))


def took(edge: Edge) -> Took:
    """The trace of an edge taken."""
    return Took(edge.node, edge.path)


def end_call(state: CallState, out: list[Action]) -> Result:
    """Mark the call ended."""
    return replace(state, ended=True), out


def progress(state: CallState) -> CallState:
    """A valid entry clears the in-a-row counters."""
    return replace(state, no_input=0, invalid=0)


def key_of(digits: str) -> Key | None:
    """The key a menu Gather received, or None for anything but one known key."""
    try:
        return Key(digits)
    except ValueError:
        return None


def failed(menu: Menu, state: CallState, *kinds: EdgeKind) -> list[Action]:
    """The trace of failure paths taken at the node the call waits at."""
    node = menu.nodes.get(state.node)
    if node is None or not waits(node):
        return []
    return [took(failure(node, kind)) for kind in kinds]


def reread(state: CallState, node: Node, edge: Edge) -> Result:
    """A statement's paging key: fetch the statement again, for the next page or this one."""
    assert node.service is not None and state.person_id is not None
    page = state.page + (edge.kind == EdgeKind.MORE)
    fetch = Fetch(node.service, state.person_id)
    return replace(progress(state), page=page), [Note(edge.kind.value), took(edge), fetch]
