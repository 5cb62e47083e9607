"""The menu tree as a picture: Mermaid text, Graphviz DOT text, or SVG/PNG drawn by Graphviz.

Every format draws one model, `graph(menu)`, so all show the same nodes and edges:

- A node shows its name over the first words of its prompt, and under them the first
  phrases a caller may say to reach it (speech navigation), in the menu's own language.
  Menu = hexagon, input = parallelogram, say = box, service = box with side bars,
  language = rounded box, agent = red stadium (rounded box), hangup = grey circle (Mermaid)
  or octagon (DOT).
- Gold nodes require identity: an unverified caller first keys ID and PIN in the identify
  inputs (the menu's `identify`, drawn as a group of their own), then goes on to the node.
- Solid arrow with a key: a menu option; without a label: `next`; `* repeat`: a self loop
  that re-reads the menu (or the statement's page); `1 more`: the statement's next page.
  Thick red arrow: to the agent. Dotted blue: back towards the start.
- Dashed grey: the failure limits. A waiting node meets no input or a wrong key by asking
  again; instead of those loops it has a `timeout ×N` arrow to a shared "goodbye" end and an
  `invalid ×N` arrow to a shared "agent or goodbye" end (N from `limits`), not menu nodes.
"""

from __future__ import annotations

import html
import re
import shutil
import unicodedata
from dataclasses import dataclass

import graphviz

from ivr.core.model import Menu, Node
from ivr.errors import IvrError
from ivr.menu.picture import label, links, phrases_label

FORMATS = ("mermaid", "dot", "svg", "png")
FONT = "Noto Sans CJK SC,sans-serif"  # fonts-noto-cjk (make install), else the viewer's own
WRAP = 24  # label columns per line (a Chinese character takes two): keeps nodes compact
LIMIT = "limit"  # the kind of the two shared failure ends
# Each failure end's name and label (its id gets a suffix should a menu node have that name).
ENDS = {"timeout": ("no_input_limit", "goodbye\n挂机"),
        "invalid": ("invalid_limit", "agent or goodbye\n转人工或挂机")}  # fmt: skip
GROUP, GROUP_LABEL = "identity_check", "identity check: before any gold node"
# Words Mermaid or DOT read as keywords where a node id stands.
_RESERVED = frozenset("end graph subgraph flowchart digraph node edge strict style class"
                      " classdef click linkstyle direction default".split())  # fmt: skip
_NO_LINE_START = set("，。、；：！？）》」』…,.;:!?)")  # punctuation stays on the line it ends
_GREY, _RED, _BLUE, _GOLD = "#888888", "#c0392b", "#2563eb", "#b8860b"
_LEGEND = (("──", "#000000", "key (option), or next when unlabelled"),
           ("━━", _RED, "to the agent"), ("┈┈", _BLUE, "back towards the start"),
           ("╌╌", _GREY, "failure limit: timeout ×N → goodbye, invalid ×N → agent or goodbye"),
           ("■", _GOLD, "requires identity (ID and PIN first)"))  # fmt: skip
_DASHED = {"style": "dashed", "color": _GREY, "fontcolor": "#666666"}
_ENDING = {"shape": "octagon", "style": "filled", "fillcolor": "#eeeeee", "color": "#777777"}
# Node kind: Mermaid brackets, Mermaid class, DOT attributes. Pointed and slanted shapes grow
# with their label, so they get a small margin.
_NODES = {
    "say": ("[", "]", "", {"shape": "box"}),
    "menu": ("{{", "}}", "", {"shape": "hexagon", "margin": "0.02"}),
    "input": ("[/", "/]", "", {"shape": "parallelogram", "margin": "0.02"}),
    "service": ("[[", "]]", "", {"shape": "component"}),
    "language": ("(", ")", "", {"shape": "box", "style": "rounded"}),
    "agent": ("([", "])", "agent",
              {"shape": "box", "style": "rounded,filled", "fillcolor": "#fde2e2", "color": _RED}),
    "hangup": ("((", "))", "ending", _ENDING),
    LIMIT: ("((", "))", "ending", _ENDING),
}  # fmt: skip
_IDENTITY = {"style": "filled", "fillcolor": "#fff3c4", "color": _GOLD}
_CLASSES = {"identity": f"fill:#fff3c4,stroke:{_GOLD},color:#000",
            "agent": f"fill:#fde2e2,stroke:{_RED},color:#000",
            "ending": "fill:#eeeeee,stroke:#777777,color:#333"}  # fmt: skip
# Edge kind: Mermaid arrow, Mermaid linkStyle, DOT attributes.
_EDGES = {
    "option": ("-->", "", {}),
    "next": ("-->", "", {"color": "#444444"}),
    "repeat": ("-->", "stroke:#777777", {"color": "#777777"}),
    "agent": ("==>", f"stroke:{_RED},stroke-width:3px",
              {"style": "bold", "color": _RED, "penwidth": "2"}),
    "back": ("-->", f"stroke:{_BLUE},stroke-width:2px,stroke-dasharray:2 4",
             {"style": "dotted", "color": _BLUE, "penwidth": "1.6"}),
    "timeout": ("-.->", f"stroke:{_GREY}", _DASHED),
    "invalid": ("-.->", f"stroke:{_GREY}", _DASHED),
}  # fmt: skip


class GraphvizMissing(IvrError):
    """Graphviz's `dot` program, which draws SVG and PNG, is not installed."""

    def __init__(self) -> None:
        """Say how to install it, and which formats need nothing."""
        super().__init__(
            "drawing SVG or PNG needs Graphviz's `dot` program: install it with"
            " `apt-get install graphviz` (or `make install`);"
            " `--format mermaid` and `--format dot` need nothing"
        )


@dataclass(frozen=True)
class GraphNode:
    """A box in the picture: a menu node or one of the shared failure ends."""

    id: str  # a plain id to Mermaid and DOT alike; the label carries the real name
    label: str  # lines joined by "\n"
    kind: str  # a NodeType value, or LIMIT
    identity: bool = False


@dataclass(frozen=True)
class GraphEdge:
    """An arrow: kind is option, repeat, next, agent, back, timeout or invalid."""

    source: str
    target: str
    label: str
    kind: str


@dataclass(frozen=True)
class Graph:
    """The whole picture, before any format."""

    name: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    identify: tuple[str, ...]  # the ids of the identify inputs (ID, then PIN), drawn as a group
    group: str  # the id of that group, unlike every node's


def graph(menu: Menu) -> Graph:
    """The picture's nodes and edges: the one model every format draws."""
    # The ends and the group get ids after the nodes, so a node named like one keeps its own.
    *unique, group = _safe_ids([*menu.nodes, *(name for name, _ in ENDS.values()), GROUP])
    ids = dict(zip(menu.nodes, unique, strict=False))
    ends = dict(zip(ENDS, unique[len(menu.nodes) :], strict=True))
    nodes = [
        GraphNode(ids[node.name], _label(menu, node), node.type.value, node.requires_identity)
        for node in menu.nodes.values()
    ]
    found = [edge for node in menu.nodes.values() for edge in _edges(menu, node, ids, ends)]
    used = {edge.kind for edge in found}
    nodes += [
        GraphNode(ends[kind], text, LIMIT) for kind, (_, text) in ENDS.items() if kind in used
    ]
    first = menu.nodes[menu.identify]
    identify = tuple(ids[name] for name in (first.name, first.next) if name)
    return Graph(menu.name, tuple(nodes), tuple(found), identify, group)


def _safe_ids(names: list[str]) -> list[str]:
    """An id per name that Mermaid and DOT both read as a plain id, no two alike."""
    taken: set[str] = set()
    ids = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not base[:1].isalpha() or base.lower() in _RESERVED:
            base = f"n_{base}"
        found, count = base, 1
        while found.lower() in taken:  # case-blind: no two ids differ only in case
            count += 1
            found = f"{base}_{count}"
        taken.add(found.lower())
        ids.append(found)
    return ids


def _label(menu: Menu, node: Node) -> str:
    """The node's name over its short prompt, wrapped to WRAP columns."""
    text, said = label(menu, node), phrases_label(menu, node)
    lines = [node.name] if text == node.name else [node.name, *_wrap(text)]
    return "\n".join([*lines, *_wrap(said)])


def _wrap(text: str, width: int = WRAP) -> list[str]:
    """Break text into lines of about `width` columns, between words or Chinese characters."""
    lines, line, used = [], "", 0
    for piece in re.findall(r"[!-~]+|\s+|.", text):
        size = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in piece)
        if line and used + size > width and piece not in _NO_LINE_START:
            lines.append(line.rstrip())
            line, used = "", 0
        if piece.isspace() and not line:
            continue
        line, used = line + piece, used + size
    return [*lines, line.rstrip()] if line.strip() else lines


def _edges(menu: Menu, node: Node, ids: dict[str, str], ends: dict[str, str]) -> list[GraphEdge]:
    """A node's links (ivr.menu.picture), its failure loops folded into the shared ends."""
    source, found = ids[node.name], []
    limits = {"timeout": menu.limits.no_input, "invalid": menu.limits.invalid}
    for link in links(menu, node):
        kind, key, target = link.kind, link.key, link.target
        if kind in limits:
            found.append(GraphEdge(source, ends[kind], f"{kind} ×{limits[kind]}", kind))
        elif kind in ("option", "more") and target == node.name:  # * repeat, a page more
            word = "more" if kind == "more" else "repeat"
            found.append(GraphEdge(source, source, f"{key} {word}", "repeat"))
        else:
            found.append(GraphEdge(source, ids[target], key, kind))
    return found


def to_mermaid(menu: Menu) -> str:
    """The menu as a Mermaid `flowchart TD`; the module docstring tells what the styles mean."""
    model = graph(menu)
    lines = ["flowchart TD", f"    %% {' '.join(model.name.split())}"]
    lines += [f"    %% {sample} {meaning}" for sample, _, meaning in _LEGEND]
    lines += _mermaid_nodes(model)
    links: dict[str, list[str]] = {}
    for index, edge in enumerate(model.edges):
        arrow, style, _ = _EDGES.get(edge.kind, _EDGES["option"])
        text = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{text} {edge.target}")
        if style:  # linkStyle numbers edges in the order they are written
            links.setdefault(style, []).append(str(index))
    lines += [f"    classDef {name} {style}" for name, style in _CLASSES.items()]
    members: dict[str, list[str]] = {}
    for node in model.nodes:
        css = "identity" if node.identity else _NODES.get(node.kind, _NODES["say"])[2]
        members.setdefault(css, []).append(node.id)
    lines += [f"    class {','.join(ids)} {css}" for css, ids in members.items() if css]
    lines += [f"    linkStyle {','.join(numbers)} {style}" for style, numbers in links.items()]
    return "\n".join(lines) + "\n"


def _mermaid_nodes(model: Graph) -> list[str]:
    """The node declarations, the identify inputs inside a subgraph of their own."""
    lines, group = [], []
    for node in model.nodes:
        opening, closing, _, _ = _NODES.get(node.kind, _NODES["say"])
        declared = f'    {node.id}{opening}"{_mermaid_text(node.label)}"{closing}'
        (group if node.id in model.identify else lines).append(declared)
    if group:
        title = _mermaid_text(GROUP_LABEL)
        lines += [f'    subgraph {model.group}["{title}"]', *(f"    {g}" for g in group), "    end"]
    return lines


def _mermaid_text(text: str) -> str:
    """Text for inside a Mermaid "string": entity codes for what Mermaid or HTML would read."""
    # Mermaid turns #name; and #code; into HTML entities, so # itself must be one too.
    escaped = re.sub(r'[#"<>&`|]', lambda m: "#quot;" if m[0] == '"' else f"#{ord(m[0])};", text)
    # Mermaid breaks the line at a backslash-n even when the backslash is an entity: a
    # zero-width space after every backslash keeps it literal.
    return escaped.replace("\\", "#92;#8203;").replace("\n", "<br/>")


def to_dot(menu: Menu) -> str:
    """The menu as Graphviz DOT text; the module docstring tells what the styles mean."""
    return _digraph(menu).source


def _digraph(menu: Menu) -> graphviz.Digraph:
    """The model as a graphviz Digraph, which does all of DOT's quoting."""
    model = graph(menu)
    dot = graphviz.Digraph("menu", encoding="utf-8")
    dot.attr(rankdir="TB", fontname=FONT, label=_legend(model.name), labelloc="t",
             nodesep="0.3", ranksep="0.45")  # fmt: skip
    dot.attr("node", fontname=FONT, fontsize="11", margin="0.1,0.05")
    dot.attr("edge", fontname=FONT, fontsize="10")
    ends = graphviz.Digraph()  # the shared failure ends sit together at the bottom
    ends.attr(rank="sink")
    group = graphviz.Digraph(f"cluster_{model.group}")
    group.attr(label=_dot_text(GROUP_LABEL), style="rounded,dashed", color=_GOLD, fontsize="10")
    for node in model.nodes:
        style = {**_NODES.get(node.kind, _NODES["say"])[3], **(_IDENTITY if node.identity else {})}
        into = ends if node.kind == LIMIT else group if node.id in model.identify else dot
        into.node(node.id, _dot_text(node.label), **style)
    dot.subgraph(group)
    dot.subgraph(ends)
    for edge in model.edges:
        text = _dot_text(edge.label) if edge.label else None
        dot.edge(edge.source, edge.target, text, **_EDGES.get(edge.kind, _EDGES["option"])[2])
    return dot


def _dot_text(text: str) -> str:
    """A label for graphviz: user text made literal, its lines joined by DOT's \\n."""
    return graphviz.nohtml("\\n".join(graphviz.escape(line) for line in text.split("\n")))


def _legend(title: str) -> str:
    """The graph's caption, an HTML-like table: the menu's name and what the styles mean."""
    rows = [f'<tr><td colspan="2"><b>{html.escape(title)}</b></td></tr>']
    rows += [f'<tr><td align="right"><font color="{colour}">{sample}</font></td>'
             f'<td align="left">{html.escape(meaning)}</td></tr>'
             for sample, colour, meaning in _LEGEND]  # fmt: skip
    return f'<<table border="0" cellspacing="0" cellpadding="1">{"".join(rows)}</table>>'


def render(menu: Menu, fmt: str) -> bytes:
    """The picture in `fmt` (one of FORMATS): Mermaid or DOT as UTF-8 text, or SVG/PNG bytes."""
    if fmt in ("mermaid", "dot"):
        return (to_mermaid(menu) if fmt == "mermaid" else to_dot(menu)).encode("utf-8")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if shutil.which("dot") is None:
        raise GraphvizMissing
    try:
        return _digraph(menu).pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:  # found by which, gone by the time it ran
        raise GraphvizMissing from exc
