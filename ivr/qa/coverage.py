"""Menu coverage: which nodes and paths of the YAML menu tree a set of calls exercised.

Everything is derived from the Menu object, so coverage stays right when the tree changes.
Calls are read from their transcripts' requests, by the hotline's URL convention: POST /voice
starts a call, a Gather posts its keys to /voice/keys?node=NAME and falls through to
/voice/silence?node=NAME when it times out. The reply's TwiML (its Gather) says where the call
then waits, which settles what the keys alone cannot (a refused entry, the identity gate).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from ivr.core.model import REPEAT, Field, Key, Menu, NodeType
from ivr.sim.turns import Turn, TurnKind

TIMEOUT = "timeout"
INVALID = "invalid key"
NO_INPUT_LIMIT = "no-input limit"
INVALID_LIMIT = "invalid limit"
INPUT = "input"
FAILURE_PATHS = (TIMEOUT, INVALID, NO_INPUT_LIMIT, INVALID_LIMIT)
WAITS = (NodeType.MENU, NodeType.INPUT)  # the node types whose Gather a call waits at
UNKNOWN = "\0unknown"  # where a call waits when its reply's TwiML was not recorded
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True
)


@dataclass(frozen=True)
class PathItem:
    """One coverable path at a node, e.g. "key 1 -> social" or "timeout", and its hits."""

    node: str
    path: str
    hits: int


@dataclass(frozen=True)
class Coverage:
    """How often each node was reached and each path taken, over a set of calls."""

    nodes: Mapping[str, int]
    paths: tuple[PathItem, ...]

    @property
    def unreached(self) -> list[str]:
        """The nodes no call reached, in the menu's order."""
        return [name for name, hits in self.nodes.items() if hits == 0]

    @property
    def percent(self) -> float:
        """Covered paths as a percentage of all paths (100 when there is nothing to cover)."""
        if not self.paths:
            return 100.0
        return 100.0 * sum(1 for item in self.paths if item.hits) / len(self.paths)

    def missed_paths(self) -> list[PathItem]:
        """The paths no call took."""
        return [item for item in self.paths if item.hits == 0]

    def hits(self, node: str, path: str) -> int:
        """How often one path was taken (0 for a path the menu does not have)."""
        return next((i.hits for i in self.paths if (i.node, i.path) == (node, path)), 0)


def option_path(key: str, target: str) -> str:
    """The name of a menu option's path."""
    return f"key {key} -> {target}"


def menu_paths(menu: Menu) -> list[tuple[str, str]]:
    """Every (node, path) the tree offers: options, input, and the failure paths of waits."""
    found: list[tuple[str, str]] = []
    for node in menu.nodes.values():
        if node.type not in WAITS:
            continue
        if node.type == NodeType.MENU:
            found += [(node.name, option_path(k.value, t)) for k, t in node.options.items()]
        else:
            found.append((node.name, INPUT))
        found += [(node.name, path) for path in FAILURE_PATHS]
    return found


def coverage(menu: Menu, transcripts: Iterable[Sequence[Turn]]) -> Coverage:
    """Walk each call's requests over the menu tree and count the nodes and paths hit."""
    nodes: Counter[str] = Counter()
    paths: Counter[tuple[str, str]] = Counter()
    for transcript in transcripts:
        call = _Call(menu, nodes, paths)
        for turn in transcript:
            request = _request(turn)
            if request is not None:
                call.handle(*request)
    return Coverage(
        nodes=MappingProxyType({name: nodes[name] for name in menu.nodes}),
        paths=tuple(PathItem(n, p, paths[(n, p)]) for n, p in menu_paths(menu)),
    )


def _request(turn: Turn) -> tuple[str, str | None, str, str | None] | None:
    """A hotline request as (kind, node, digits, where the reply waits), or None to skip."""
    if turn.kind != TurnKind.REQUEST or not turn.url or turn.status != 200:
        return None  # a refused request moved no call
    parts = urlsplit(turn.url)
    path = parts.path.rstrip("/")
    # A deployed hotline may sit under a path prefix, so match the ends of paths.
    kind = next((k for k in ("keys", "silence") if path.endswith(f"/voice/{k}")), None)
    if kind is None and not path.endswith("/voice"):
        return None  # audio, status callbacks, the agent leg's end
    node = parse_qs(parts.query).get("node", [None])[0]
    digits = (turn.form or {}).get("Digits", "")
    return kind or "start", node, digits, _waits(turn.twiml)


def _waits(twiml: str | None) -> str | None:
    """The node whose Gather the reply waits at; None when it waits at none."""
    if twiml is None:
        return UNKNOWN
    try:
        root = etree.fromstring(twiml.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return None
    gather = root.find("Gather") if root is not None else None
    if gather is None:
        return None
    return parse_qs(urlsplit(gather.get("action", "")).query).get("node", [None])[0]


@dataclass
class _Call:
    """One call's walk, with the engine's in-a-row counters as far as requests show them."""

    menu: Menu
    nodes: Counter[str]
    paths: Counter[tuple[str, str]]
    waiting: str | None = None
    verified: bool = False
    pending: str | None = None  # the node the identity gate held back
    no_input: int = 0
    invalid: int = 0

    def handle(self, kind: str, node: str | None, digits: str, waits: str | None) -> None:
        """Apply one request to the walk."""
        if kind == "start":
            self.waiting, self.verified, self.pending = None, False, None
            self.no_input = self.invalid = 0
            self.arrive(self.menu.start, waits)
            return
        if node not in self.menu.nodes:
            return  # not this tree's node: a stale link or another menu
        if node != self.waiting:
            self.reach(node)  # the call got here in a way the walk did not see
        self.waiting = node
        kind_of = self.menu.nodes[node].type
        if kind == "silence" and kind_of in WAITS:
            self.timeout(node, waits)
        elif kind == "keys" and kind_of == NodeType.MENU:
            self.key(node, digits, waits)
        elif kind == "keys" and kind_of == NodeType.INPUT:
            self.entry(node, waits)
        self.waiting = self.waiting if waits == UNKNOWN else waits

    def reach(self, name: str) -> None:
        """Count one arrival at a node."""
        self.nodes[name] += 1

    def hit(self, node: str, path: str) -> None:
        """Count one path taken."""
        self.paths[(node, path)] += 1

    def walk(self, name: str | None, verified: bool) -> tuple[list[str], str | None, str | None]:
        """The nodes the engine passes from `name`, where it then waits, and any held node."""
        passed: list[str] = []
        held = None
        while name in self.menu.nodes and name not in passed:
            node = self.menu.nodes[name]
            if node.requires_identity and not verified:
                held, name = name, self.menu.identify  # the engine asks who is calling first
                continue
            passed.append(name)
            if node.type in WAITS:
                return passed, name, held
            if node.type not in (NodeType.SAY, NodeType.LANGUAGE, NodeType.SERVICE):
                break  # an agent or hangup ends the call, or goes back to an unseen menu
            name = node.next
        return passed, None, held

    def arrive(self, name: str | None, waits: str | None) -> None:
        """Reach `name` and what the engine passes after it, as the reply confirms."""
        passed, stop, held = self.walk(name, self.verified)
        if waits != UNKNOWN and stop != waits:
            # The reply disagrees: perhaps the identity gate stands where we thought not.
            other = self.walk(name, not self.verified)
            if other[1] == waits:
                passed, stop, held = other
                self.verified = not self.verified
        self.settle(passed, stop if waits == UNKNOWN else waits)
        if held is not None:
            self.pending = held

    def settle(self, passed: list[str], waits: str | None) -> None:
        """Count the nodes passed and the node the call waits at."""
        for name in passed:
            self.reach(name)
        if waits is not None and waits not in passed:
            self.reach(waits)
        self.waiting = waits

    def timeout(self, node: str, waits: str | None) -> None:
        """A Gather timed out: count it, and the no-input limit when reached."""
        self.hit(node, TIMEOUT)
        self.no_input += 1
        if self.no_input >= self.menu.limits.no_input:
            self.hit(node, NO_INPUT_LIMIT)
        self.unexpected(node, waits)

    def refused(self, node: str, waits: str | None) -> None:
        """An invalid key or entry: count it, and the invalid limit when reached."""
        self.hit(node, INVALID)
        self.invalid += 1
        if self.invalid >= self.menu.limits.invalid:
            self.hit(node, INVALID_LIMIT)
        self.unexpected(node, waits)

    def unexpected(self, node: str, waits: str | None) -> None:
        """After asking again, a reply waiting elsewhere still counts as reaching there."""
        if waits not in (None, UNKNOWN, node):
            self.reach(waits)

    def key(self, node: str, digits: str, waits: str | None) -> None:
        """A key at a menu: an option taken, or an invalid key."""
        target = self.menu.nodes[node].options.get(Key(digits)) if _is_key(digits) else None
        if target is None:
            self.refused(node, waits)
            return
        self.hit(node, option_path(digits, target))
        self.no_input = self.invalid = 0
        if target == REPEAT:
            self.unexpected(node, waits)
        else:
            self.arrive(target, waits)

    def entry(self, node: str, waits: str | None) -> None:
        """An entry at an input node: the ID leads to the PIN, the PIN to the held node."""
        self.hit(node, INPUT)
        # Asked again means refused; a call that ends at the limit is taken as refused too
        # (a third failed verification ending it at that moment would be miscounted).
        at_limit = self.invalid + 1 >= self.menu.limits.invalid
        if waits == node or (waits is None and at_limit):
            self.refused(node, waits)
            return
        self.no_input = self.invalid = 0
        if self.menu.nodes[node].field == Field.PIN:
            self.verify(waits)
        else:
            self.arrive(self.menu.nodes[node].next or self.menu.start, waits)

    def verify(self, waits: str | None) -> None:
        """A PIN was entered: on to the held node, or back to the ID or a menu on failure."""
        passed, stop, _ = self.walk(self.pending or self.menu.start, True)
        if waits == UNKNOWN or stop == waits:
            # A locked account sent back to the very menu the service returns to looks
            # the same as a success here; the next gated key corrects `verified`.
            self.verified, self.pending = True, None
            self.settle(passed, stop)
        elif waits == self.menu.identify:
            self.settle([], waits)  # a failed verification: asked for the ID again
        else:
            self.pending = None  # locked out: back to the menu, or the call ended
            self.settle([], waits)


def _is_key(digits: str) -> bool:
    """True when the digits are exactly one telephone key."""
    return digits in {key.value for key in Key}
