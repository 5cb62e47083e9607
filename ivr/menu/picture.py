"""The menu as pictures show it: each node's short label and the links drawn out of it.

One source for the drawings of the tree (ivr.menu.graph), `menu show` and the softphone's
page. The links are the engine's own edges (ivr.core.edges), with the keys told apart by
where they lead: to the agent, back towards the start, or on.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.core.edges import EdgeKind, edges
from ivr.core.model import Menu, Node, NodeType
from ivr.menu.paths import depths

LABEL_CHARS = 40  # a picture shows a node's first words, not its whole prompt
PHRASES_SHOWN = 3  # and the first few of the phrases that lead to it
# The edges drawn without a key, and their kind; the limits' ends are no nodes of the menu.
_UNKEYED = {EdgeKind.NEXT: "next", EdgeKind.TIMEOUT: "timeout", EdgeKind.INVALID: "invalid"}


@dataclass(frozen=True)
class Link:
    """A drawn edge; kind is option, agent, back, next, timeout or invalid."""

    key: str  # the menu key, or "" for an edge no key takes
    target: str
    kind: str


def label(menu: Menu, node: Node) -> str:
    """The node's prompt in the menu's own language, cut to about LABEL_CHARS characters."""
    if node.prompts:
        text = " ".join(menu.prompt(name).text for name in node.prompts)
    elif node.service is not None:
        text = node.service.value
    else:
        text = node.name
    flat = " ".join(text.split())
    return flat if len(flat) <= LABEL_CHARS else flat[: LABEL_CHARS - 1].rstrip() + "…"


def phrases_label(menu: Menu, node: Node, lang: str | None = None) -> str:
    """What a caller may say to reach the node, in a language (the menu's own when None),
    as pictures show it: “医保余额 / 个人账户余额 / 账户余额 …”; "" when it has none."""
    found = node.say.get(lang or menu.language, ())
    if not found:
        return ""
    more = " …" if len(found) > PHRASES_SHOWN else ""
    return f"“{' / '.join(found[:PHRASES_SHOWN])}{more}”"


def links(menu: Menu, node: Node) -> list[Link]:
    """Where a call can go from `node`: keys, the next node, no input and invalid keys.

    A waiting node meets no input and invalid keys by asking again, so those links lead
    back to the node itself; so does a key that repeats the menu.
    """
    depth = depths(menu)
    found = []
    for edge in edges(menu, node):
        if edge.target is None:
            continue  # decided as the call goes: not a line between two nodes
        if edge.key is not None:
            more = edge.kind == EdgeKind.MORE  # the statement's next page: the node again
            kind = "more" if more else _key_kind(menu, node, edge.target, depth)
            found.append(Link(edge.key.value, edge.target, kind))
        elif edge.kind in _UNKEYED:
            found.append(Link("", edge.target, _UNKEYED[edge.kind]))
    return found


def _key_kind(menu: Menu, node: Node, target: str, depth: dict[str, int]) -> str:
    """`agent` for a transfer, `back` for a key that returns towards the start."""
    if menu.nodes[target].type == NodeType.AGENT:
        return "agent"
    # Menus name each other both ways (2 leads down, # leads up): only the key to a node
    # nearer the start is the way back.
    if target != node.name and depth.get(target, 0) < depth.get(node.name, 0):
        return "back"
    return "option"
