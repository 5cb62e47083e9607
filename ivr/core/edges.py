"""Where a call can go from a node: the one declaration of a menu's edges.

The engine follows these edges (an option's target, a phrase said, `next`, the identity
gate, the failure paths) and names each one it takes in its trace; coverage counts them,
and the lint, the pictures of the tree and the softphone's menu draw them. So none can
drift from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ivr.core.model import MORE, REPEAT, Key, Menu, Node, NodeType


def keyed(node: Node) -> bool:
    """True when the node waits for one key among its options: a menu, or a service with
    keys of its own (the statement, read a page at a time)."""
    return node.type == NodeType.MENU or (node.type == NodeType.SERVICE and bool(node.options))


def waits(node: Node) -> bool:
    """True when a call waits at the node's Gather: a keyed node, or an input."""
    return node.type == NodeType.INPUT or keyed(node)


class EdgeKind(StrEnum):
    """What takes a call along an edge; the value names the path, except for keys."""

    OPTION = "option"  # a menu key that leads to a node
    SPEECH = "say"  # a phrase said at a listening menu: an option, a deep link or the agent
    REPEAT = "repeat"  # a menu key that reads the menu again
    MORE = "more"  # a statement's key that reads the next, older page
    INPUT = "input"  # an entry keyed at an input node, right or wrong
    NEXT = "next"  # on by `next`: after speaking, a read-back, or an identified caller
    GATE = "identity gate"  # an unverified caller is sent to the menu's `identify` first
    TIMEOUT = "timeout"  # no input: asked again
    INVALID = "invalid key"  # an invalid key or entry: asked again
    NO_INPUT_LIMIT = "no-input limit"  # too many timeouts in a row: goodbye
    INVALID_LIMIT = "invalid limit"  # too many invalid entries in a row: agent or goodbye


FAILURES = (EdgeKind.TIMEOUT, EdgeKind.INVALID, EdgeKind.NO_INPUT_LIMIT, EdgeKind.INVALID_LIMIT)
# The edges that a wait node offers its caller: keys and input, then the failure paths.
COVERABLE = frozenset({EdgeKind.OPTION, EdgeKind.REPEAT, EdgeKind.MORE, EdgeKind.SPEECH,
                       EdgeKind.INPUT, *FAILURES})  # fmt: skip


@dataclass(frozen=True)
class Edge:
    """One way out of a node."""

    node: str
    kind: EdgeKind
    # The node the call goes to; None where the call decides (where an entry leads once
    # checked, the end of a limit: goodbye, or the agent within agent hours).
    target: str | None
    key: Key | None = None

    @property
    def path(self) -> str:
        """The edge's name in the engine's trace and in coverage: "key 1 -> social", "timeout"."""
        if self.kind == EdgeKind.SPEECH:  # "say -> balance"; at its own node, "say -> repeat"
            return f"{self.kind.value} -> {REPEAT if self.target == self.node else self.target}"
        if self.key is None:
            return self.kind.value
        return option_path(self.key, _STAYING_WORD.get(self.kind, self.target))


# Option targets that keep the call at its node, and the kind of edge each makes.
_STAYING = {REPEAT: EdgeKind.REPEAT, MORE: EdgeKind.MORE}
_STAYING_WORD = {kind: word for word, kind in _STAYING.items()}


def option_path(key: str, target: str | None) -> str:
    """The name of a menu option's path, e.g. "key 2 -> medical" or "key * -> repeat"."""
    return f"key {key} -> {target}"


def option(node: Node, key: Key) -> Edge | None:
    """Where a key leads at a menu node; None when the menu has no such option."""
    target = node.options.get(key)
    if target is None:
        return None
    if target in _STAYING:
        return Edge(node.name, _STAYING[target], node.name, key)
    return Edge(node.name, EdgeKind.OPTION, target, key)


def onward(node: Node) -> Edge | None:
    """The node's `next`, if it names one."""
    return Edge(node.name, EdgeKind.NEXT, node.next) if node.next is not None else None


def gate(menu: Menu, node: Node) -> Edge | None:
    """The detour to `identify` that a node requiring identity makes an unverified caller take."""
    return Edge(node.name, EdgeKind.GATE, menu.identify) if node.requires_identity else None


def entry(node: Node) -> Edge | None:
    """The entry an input node takes: where it leads is known only once it is checked."""
    return Edge(node.name, EdgeKind.INPUT, None) if node.type == NodeType.INPUT else None


def failure(node: Node, kind: EdgeKind) -> Edge:
    """A failure path of a wait node: asked again (timeout, invalid), or a limit's end."""
    again = kind in (EdgeKind.TIMEOUT, EdgeKind.INVALID)
    return Edge(node.name, kind, node.name if again else None)


def listens(menu: Menu, node: Node) -> bool:
    """True when the Gather at `node` takes speech as well as keys: a menu of a menu that
    listens, unless it says otherwise. Never an input: an ID or a PIN is only ever keyed."""
    return menu.speech.enabled and node.type == NodeType.MENU and node.listen is not False


def home(menu: Menu) -> str | None:
    """The first menu a call waits at, along `next` from the start: where deep links are."""
    name, seen = menu.start, set()
    while name in menu.nodes and name not in seen:
        seen.add(name)
        node = menu.nodes[name]
        if node.type == NodeType.MENU:
            return name
        name = node.next or ""
    return None


def phrases(menu: Menu, node: Node, target: str, lang: str) -> tuple[str, ...]:
    """What a caller at `node` may say in `lang` to go to `target` (`node` itself: 重听):
    the phrases of the options that lead there, then the target's own."""
    keys = [k for k, t in node.options.items() if (node.name if t == REPEAT else t) == target]
    found = [p for key in keys for p in node.option_say.get(key, {}).get(lang, ())]
    own = menu.speech.repeat if target == node.name else menu.nodes[target].say
    return tuple(dict.fromkeys([*found, *own.get(lang, ())]))


def spoken(menu: Menu, node: Node) -> tuple[Edge, ...]:
    """Where phrases said at a listening menu lead, one edge per place: its options (repeat
    included), any agent node from every menu, and from the home menu every node of the tree
    that has phrases (a deep link: the identity gate applies on arrival, as for a key)."""
    if not listens(menu, node):
        return ()
    places = [node.name if target == REPEAT else target for target in node.options.values()]
    places += [n.name for n in menu.nodes.values() if n.type == NodeType.AGENT]
    if node.name == home(menu):
        places += [n.name for n in menu.nodes.values() if n.say and n.name != node.name]
    found = []
    for place in dict.fromkeys(p for p in places if p in menu.nodes):
        if any(phrases(menu, node, place, lang) for lang in menu.languages):
            found.append(Edge(node.name, EdgeKind.SPEECH, place))
    return tuple(found)


def edges(menu: Menu, node: Node) -> tuple[Edge, ...]:
    """Every way out of `node`, in order: keys, phrases, input, `next`, the identity gate,
    failures."""
    found = [edge for key in node.options if (edge := option(node, key)) is not None]
    found += spoken(menu, node)
    found += [e for e in (entry(node), onward(node), gate(menu, node)) if e is not None]
    if waits(node):
        found += [failure(node, kind) for kind in FAILURES]
    return tuple(found)
