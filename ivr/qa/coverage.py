"""Menu coverage: which nodes and paths of the YAML menu tree a set of calls exercised.

Coverage is derived from the engine's own trace, never worked out again here. With every
webhook answer the hotline tells which nodes the call reached and which paths it took (its
X-IVR-Trace header, ivr.core.trace), the simulator keeps that with the request's turn, and
coverage sums those traces. So it counts exactly what the engine did, whatever its rules
(the identity gate, the in-a-row limits, `next` chains). The paths there are to cover come
from the menu's edges (ivr.core.edges), so coverage follows the tree when the tree changes.

A request turn without a trace (a hotline that does not send the header) contributes
nothing: calls to such a hotline reach no node and take no path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ivr.core.edges import COVERABLE, FAILURES, EdgeKind, edges
from ivr.core.events import Reached, Took
from ivr.core.model import Menu
from ivr.sim.turns import Turn, TurnKind

TIMEOUT = EdgeKind.TIMEOUT.value
INVALID = EdgeKind.INVALID.value
NO_INPUT_LIMIT = EdgeKind.NO_INPUT_LIMIT.value
INVALID_LIMIT = EdgeKind.INVALID_LIMIT.value
INPUT = EdgeKind.INPUT.value
FAILURE_PATHS = tuple(kind.value for kind in FAILURES)


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


def menu_paths(menu: Menu) -> list[tuple[str, str]]:
    """Every (node, path) the tree offers: options, input, and the failure paths of waits."""
    return [
        (edge.node, edge.path)
        for node in menu.nodes.values()
        for edge in edges(menu, node)
        if edge.kind in COVERABLE
    ]


def coverage(menu: Menu, transcripts: Iterable[Sequence[Turn]]) -> Coverage:
    """Sum the engine's traces of each call's requests over the menu's nodes and paths."""
    nodes: Counter[str] = Counter()
    paths: Counter[tuple[str, str]] = Counter()
    for transcript in transcripts:
        for turn in transcript:
            if turn.kind != TurnKind.REQUEST or turn.trace is None:
                continue
            for item in turn.trace:
                match item:
                    case Reached(node=node):
                        nodes[node] += 1
                    case Took(node=node, path=path):
                        paths[(node, path)] += 1
    # Names this menu lacks (another menu's, or a version's gone since) count for nothing.
    return Coverage(
        nodes=MappingProxyType({name: nodes[name] for name in menu.nodes}),
        paths=tuple(PathItem(n, p, paths[(n, p)]) for n, p in menu_paths(menu)),
    )
