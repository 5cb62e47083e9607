"""Where calls can go in a menu: links, distances, the menus above a menu, `next` chains.

Pure functions of a Menu, shared by the lint (ivr.menu.lint) and the pictures of the tree.
They follow the edges the engine itself follows (ivr.core.edges), so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterator

from ivr.core.edges import Edge, EdgeKind, edges, keyed, onward, waits
from ivr.core.model import Key, Menu, Node, NodeType

PASSING = (NodeType.SAY, NodeType.SERVICE, NodeType.LANGUAGE)  # speak, then go on by `next`
_STOPS = (NodeType.MENU, NodeType.INPUT, NodeType.HANGUP, NodeType.AGENT)  # a chain ends here


def targets(menu: Menu, node: Node) -> Iterator[tuple[str, str]]:
    """(key path, target) of every link the menu file writes out of a node: its options
    (bar repeats, which go nowhere new), then its `next`."""
    for edge in edges(menu, node):
        if edge.kind in (EdgeKind.OPTION, EdgeKind.NEXT) and edge.target is not None:
            yield written_at(edge), edge.target


def written_at(edge: Edge) -> str:
    """Where the menu file writes an edge: nodes.main.options['2'], nodes.welcome.next, …"""
    where = f"nodes.{edge.node}"
    if edge.key is not None:
        return f"{where}.options[{edge.key.value!r}]"
    return f"{where}.{edge.kind.value}" if edge.kind == EdgeKind.NEXT else where


def depths(menu: Menu) -> dict[str, int]:
    """Each node a call can reach, by its distance from the start (breadth first).

    Links are keys and `next`; a menu with identity-gated nodes also reaches `identify`.
    """
    depth, queue = {menu.start: 0}, [menu.start]
    if any(node.requires_identity for node in menu.nodes.values()):
        depth.setdefault(menu.identify, 1)  # the engine sends an unverified caller there
        queue.append(menu.identify)
    for name in queue:
        for _, target in targets(menu, menu.nodes[name]) if name in menu.nodes else ():
            if target not in depth:
                depth[target] = depth[name] + 1
                queue.append(target)
    return depth


def chain_end(menu: Menu, name: str) -> str | None:
    """Where a call at `name` stops along `next` links: a menu, input, hangup or agent node
    (None when the chain breaks off or loops)."""
    seen: set[str] = set()
    while name in menu.nodes and name not in seen:
        seen.add(name)
        node = menu.nodes[name]
        if node.type in _STOPS or waits(node):
            return name
        name = _next(node) or ""
    return None


def next_menu(menu: Menu, name: str) -> str | None:
    """The menu (or paged statement) a call reaches from `name` along `next` links (itself,
    when it is one)."""
    end = chain_end(menu, name)
    return end if end is not None and keyed(menu.nodes[end]) else None


def leads_to_agent(menu: Menu, name: str) -> bool:
    """True when a call at `name` reaches an agent node along `next` links, before a menu."""
    end = chain_end(menu, name)
    return end is not None and menu.nodes[end].type == NodeType.AGENT


def parents(menu: Menu) -> dict[str, set[str]]:
    """For each menu node, the menus one level up: those with a key leading down to it."""
    up: dict[str, set[str]] = {}
    for node in menu.nodes.values():
        if not keyed(node):
            continue
        for edge in edges(menu, node):
            # A repeat stays, and # and * lead up or round: only the other keys lead down.
            down = edge.kind == EdgeKind.OPTION and edge.key not in (Key.HASH, Key.STAR)
            below = next_menu(menu, edge.target) if down and edge.target else None
            if below is not None and below != node.name:
                up.setdefault(below, set()).add(node.name)
    return up


def ancestors(up: dict[str, set[str]], name: str) -> set[str]:
    """Every menu above `name`, at any level."""
    found: set[str] = set()
    queue = list(up.get(name, ()))
    while queue:
        menu = queue.pop()
        if menu not in found:
            found.add(menu)
            queue.extend(up.get(menu, ()))
    return found


def loops(menu: Menu) -> list[str]:
    """The first node of each chain of say/service/language nodes that comes back round."""
    found: dict[frozenset[str], str] = {}
    for name, node in menu.nodes.items():
        seen, current = [name], node
        while current.type in PASSING and (after := _next(current)) in menu.nodes:
            if after in seen:
                if after == name:  # each loop once, named by its first node
                    found.setdefault(frozenset(seen), name)
                break
            seen.append(after)
            current = menu.nodes[after]
    return list(found.values())


def _next(node: Node) -> str | None:
    """The node `next` leads to, if any."""
    edge = onward(node)
    return edge.target if edge is not None else None
