"""The menu tree as JSON for the softphone page: nodes, their labels and where each key leads."""

from __future__ import annotations

from typing import Any

from ivr.core.model import REPEAT, Menu, Node, NodeType
from ivr.menu.paths import depths

LABEL_CHARS = 40  # the page shows a node's first words, not its whole prompt
# Nodes that wait at a Gather: they have no-input and invalid-key paths of their own.
_GATHERING = (NodeType.MENU, NodeType.INPUT)


def menu_json(menu: Menu) -> dict[str, Any]:
    """The whole tree: the start node and every node with its edges."""
    return {"start": menu.start, "nodes": [_node(menu, node) for node in menu.nodes.values()]}


def _node(menu: Menu, node: Node) -> dict[str, Any]:
    """One node: name, type, a short label and its edges."""
    return {"name": node.name, "type": node.type.value, "label": label(menu, node),
            "edges": edges(menu, node)}  # fmt: skip


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


def edges(menu: Menu, node: Node) -> list[dict[str, str]]:
    """Where a call can go from `node`: keys, the next node, no input and invalid keys.

    A waiting node meets no input and invalid keys by asking again, so those edges lead
    back to the node itself; so does a key that repeats the menu.
    """
    found = []
    for key, target in node.options.items():
        goes = node.name if target == REPEAT else target
        found.append(_edge(key.value, goes, _option_kind(menu, node, goes)))
    if node.next:
        found.append(_edge("", node.next, "next"))
    if node.type in _GATHERING:
        found += [_edge("", node.name, "timeout"), _edge("", node.name, "invalid")]
    return found


def _option_kind(menu: Menu, node: Node, target: str) -> str:
    """`agent` for a transfer, `back` for a key that returns towards the start."""
    if menu.nodes[target].type == NodeType.AGENT:
        return "agent"
    depth = depths(menu)
    # Menus name each other both ways (2 leads down, # leads up): only the key to a node
    # nearer the start is the way back.
    if target != node.name and depth.get(target, 0) < depth.get(node.name, 0):
        return "back"
    return "option"


def _edge(key: str, target: str, kind: str) -> dict[str, str]:
    """One edge."""
    return {"key": key, "target": target, "kind": kind}
