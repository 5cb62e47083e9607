"""The menu tree as JSON for the softphone page: nodes, their labels and where each key leads."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ivr.core.model import Menu, Node
from ivr.menu.picture import label, links


def menu_json(menu: Menu) -> dict[str, Any]:
    """The whole tree: the start node and every node with its edges."""
    return {"start": menu.start, "nodes": [_node(menu, node) for node in menu.nodes.values()]}


def _node(menu: Menu, node: Node) -> dict[str, Any]:
    """One node: name, type, a short label and its edges (ivr.menu.picture.links)."""
    return {"name": node.name, "type": node.type.value, "label": label(menu, node),
            "say": {lang: list(said) for lang, said in node.say.items()},
            "edges": [asdict(link) for link in links(menu, node)]}  # fmt: skip
