"""`menu graph`: the menu tree as Mermaid, DOT, SVG and PNG (ivr.menu.graph).

The texts are parsed back, never compared byte for byte: Mermaid with a small line parser,
DOT with pydot, SVG as XML. Each must show exactly the model's nodes and edges. SVG and PNG
need Graphviz's `dot`: skipped without it, except on CI, which must run them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from xml.etree import ElementTree

import pydot
import pytest
import yaml

from ivr.config import PROJECT_ROOT
from ivr.core.edges import waits
from ivr.core.model import Menu
from ivr.menu.graph import (
    FONT,
    FORMATS,
    LIMIT,
    Graph,
    GraphvizMissing,
    graph,
    render,
    to_dot,
    to_mermaid,
)
from ivr.menu.load import load_menu
from ivr.menu.picture import label, phrases_label

DEFAULT_MENU = PROJECT_ROOT / "prompts" / "12333.yaml"
README_SVG = PROJECT_ROOT / "docs" / "menu-12333.svg"
SVG = "{http://www.w3.org/2000/svg}"
# A prompt with everything Mermaid, DOT or HTML might read as syntax (under 40 characters,
# so the label shows it whole); \n is a backslash and an n, not a line break.
TRICKY = '"hi" [x] #1 *2 <b> a|b & \\n `t` #quot;'
TRICKY_NAME = 'Test "quoted" [menu] <b>#1</b>'

Edge = tuple[str, str, str]  # source, target, label

# ------------------------------------------------------------------------------ parsers

_MERMAID_NODE = re.compile(
    r'\s*(?P<id>\w+)(?P<open>\[\[|\[/|\(\[|\(\(|\{\{|\[|\()"(?P<label>[^"]*)"'
    r"(?P<close>\]\]|/\]|\]\)|\)\)|\}\}|\]|\))"
)
_MERMAID_EDGE = re.compile(
    r'\s*(?P<source>\w+) (?P<arrow>-->|-\.->|==>)(?:\|"(?P<label>[^"]*)"\|)? (?P<target>\w+)'
)


def mermaid_text(text: str) -> str:
    """A Mermaid string's text as the picture shows it."""
    text = text.replace("<br/>", "\n")
    text = re.sub(r"#(quot|\d+);", lambda m: '"' if m[1] == "quot" else chr(int(m[1])), text)
    return text.replace("\u200b", "")  # the zero-width space that keeps a backslash literal


def parse_mermaid(text: str) -> dict:
    """Nodes (id -> shape, label), edges (with arrows), classes and link styles of a flowchart."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes, edges, classes, links = {}, [], {}, {}
    for line in lines[1:]:
        if node := _MERMAID_NODE.fullmatch(line):
            shape = node["open"] + node["close"]
            nodes[node["id"]] = (shape, mermaid_text(node["label"]))
        elif edge := _MERMAID_EDGE.fullmatch(line):
            text = mermaid_text(edge["label"] or "")
            edges.append((edge["source"], edge["target"], text, edge["arrow"]))
        elif found := re.fullmatch(r"\s*class (\S+) (\w+)", line):
            classes.update(dict.fromkeys(found[1].split(","), found[2]))
        elif found := re.fullmatch(r"\s*linkStyle (\S+) (.+)", line):
            links.update(dict.fromkeys(map(int, found[1].split(",")), found[2]))
        else:
            assert re.fullmatch(r"\s*(%%.*|classDef .+|subgraph \w+\[.+\]|end)", line), line
    return {"nodes": nodes, "edges": edges, "classes": classes, "links": links}


def dot_value(value: str) -> str:
    """A DOT attribute or id as Graphviz reads it: unquoted, \\n a line break."""
    if not (len(value) > 1 and value[0] == value[-1] == '"'):
        return value
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value[1:-1], flags=re.S)


def parse_dot(text: str) -> dict:
    """Nodes (id -> attributes) and edges (source, target, attributes) of DOT, via pydot."""
    # pydot builds its grammar with pyparsing names that pyparsing 3.3 deprecates: not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        (parsed,) = pydot.graph_from_dot_data(text)
    nodes, edges, pending = {}, [], [parsed]
    while pending:
        holder = pending.pop()
        pending += holder.get_subgraph_list()
        for node in holder.get_nodes():
            name = dot_value(node.get_name())
            if name not in ("node", "edge", "graph"):
                attributes = {k: dot_value(v) for k, v in node.get_attributes().items()}
                nodes.setdefault(name, {}).update(attributes)
        for edge in holder.get_edges():
            attributes = {k: dot_value(v) for k, v in edge.get_attributes().items()}
            source, target = dot_value(edge.get_source()), dot_value(edge.get_destination())
            edges.append((source, target, attributes))
    return {"nodes": nodes, "edges": edges, "graph": parsed}


def svg_titles(data: bytes, kind: str) -> list[str]:
    """The <title> of each `node` or `edge` group of a Graphviz SVG."""
    root = ElementTree.fromstring(data)
    return [
        group.findtext(f"{SVG}title")
        for group in root.iter(f"{SVG}g")
        if group.get("class") == kind
    ]


def model_edges(model: Graph) -> set[Edge]:
    """The model's edges as (source, target, label)."""
    return {(edge.source, edge.target, edge.label) for edge in model.edges}


def require_dot() -> None:
    """Skip without Graphviz's dot, except on CI, where the SVG and PNG tests must run."""
    if shutil.which("dot") is None:
        missing = "Graphviz is not installed: apt-get install graphviz (make install does it)"
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (CI must run the picture tests)", pytrace=False)
        pytest.skip(missing)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def menu() -> Menu:
    """The default 12333 menu."""
    return load_menu(DEFAULT_MENU)


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> Menu:
    """A small menu whose name and prompt are full of quotes and brackets, with a node named
    `end` (a Mermaid keyword) and one named like the shared timeout end."""
    folder = tmp_path_factory.mktemp("tricky")
    prompts = yaml.safe_load((PROJECT_ROOT / "prompts" / "zh-CN.yaml").read_text("utf-8"))
    prompts["prompts"].pop("language_offer", None)  # spoken by en-US, not in this menu
    prompts["prompts"].update(tricky=TRICKY, keys="按一，按二，按九，按零，按星号键。")
    (folder / "tricky-zh-CN.yaml").write_text(yaml.safe_dump(prompts, allow_unicode=True), "utf-8")
    options = {"1": "end", "2": "svc", "9": "no_input_limit", "0": "agent", "*": "repeat"}
    nodes = {
        "main": {"type": "menu", "prompt": ["tricky", "keys"], "options": options},
        "end": {"type": "hangup", "prompt": "goodbye"},
        "no_input_limit": {"type": "hangup", "prompt": "goodbye"},
        "svc": {"type": "service", "service": "balance", "requires_identity": True,
                "next": "main"},
        "ask_id": {"type": "input", "field": "id", "prompt": "ask_id", "next": "ask_pin"},
        "ask_pin": {"type": "input", "field": "pin", "prompt": "ask_pin"},
        "agent": {"type": "agent"},
    }  # fmt: skip
    menu = {"name": TRICKY_NAME, "language": "zh-CN", "start": "main", "identify": "ask_id",
            "prompts": {"zh-CN": str(folder / "tricky-zh-CN.yaml")}, "nodes": nodes}  # fmt: skip
    (folder / "menu.yaml").write_text(yaml.safe_dump(menu, allow_unicode=True), "utf-8")
    return load_menu(folder / "menu.yaml")


# ------------------------------------------------------------------------------ the model


def test_the_model_has_every_node_and_the_two_shared_ends(menu: Menu) -> None:
    model = graph(menu)
    ids = [node.id for node in model.nodes]
    assert ids == [*menu.nodes, "no_input_limit", "invalid_limit"]
    assert len(set(ids)) == len(ids)
    assert model.identify == ("ask_id", "ask_pin")
    assert model.group not in ids
    for node in model.nodes[: len(menu.nodes)]:
        real = menu.nodes[node.id]
        name, *prompt = node.label.split("\n")
        short = label(menu, real)
        said = phrases_label(menu, real)  # the phrases that lead to it, under its prompt
        assert name == node.id
        shown = ("" if short == name else short) + said
        assert "".join(prompt).replace(" ", "") == shown.replace(" ", "")
        assert (node.kind, node.identity) == (real.type.value, real.requires_identity)


def test_every_waiting_node_has_one_timeout_and_one_invalid_edge(menu: Menu) -> None:
    model = graph(menu)
    waiting = [n.name for n in menu.nodes.values() if waits(n)]
    timeouts = [(e.source, e.target, e.label) for e in model.edges if e.kind == "timeout"]
    invalids = [(e.source, e.target, e.label) for e in model.edges if e.kind == "invalid"]
    assert timeouts == [(name, "no_input_limit", "timeout ×3") for name in waiting]
    assert invalids == [(name, "invalid_limit", "invalid ×3") for name in waiting]
    assert not [e for e in model.edges if e.source == e.target and e.kind != "repeat"]


def test_no_label_line_is_much_wider_than_the_wrap(menu: Menu) -> None:
    for node in graph(menu).nodes:
        for line in node.label.split("\n")[1:]:
            assert len(line.encode("gbk", errors="replace")) <= 26, line  # two bytes a hanzi


# ------------------------------------------------------------------------------ Mermaid


@pytest.mark.parametrize(
    ("source", "label", "target"),
    [
        ("welcome", "", "main"),
        ("main", "1", "social"),
        ("main", "2", "medical"),
        ("main", "0", "agent"),
        ("main", "9", "language"),
        ("main", "* repeat", "main"),
        ("language", "", "main"),
        ("medical", "#", "main"),
        ("medical", "1", "balance"),
        ("medical", "0", "agent"),
        ("ask_id", "", "ask_pin"),
        ("ask_pin", "timeout ×3", "no_input_limit"),
        ("ask_pin", "invalid ×3", "invalid_limit"),
    ],
)
def test_mermaid_draws_the_default_menus_edges(menu, source, label, target) -> None:
    edges = {(s, t, text) for s, t, text, _ in parse_mermaid(to_mermaid(menu))["edges"]}
    assert (source, target, label) in edges


def test_mermaid_edges_and_nodes_are_the_models(menu: Menu) -> None:
    model, parsed = graph(menu), parse_mermaid(to_mermaid(menu))
    edges = [(source, target, text) for source, target, text, _ in parsed["edges"]]
    assert len(edges) == len(model.edges)
    assert set(edges) == model_edges(model)
    labels = {node: text for node, (_, text) in parsed["nodes"].items()}
    assert labels == {node.id: node.label for node in model.nodes}
    for node in menu.nodes.values():  # every key of every menu
        for key, target in node.options.items():
            goes = node.name if target in ("repeat", "more") else target
            text = f"{key.value} {target}" if goes == node.name else key.value
            assert (node.name, goes, text) in set(edges)


@pytest.mark.parametrize(
    ("kind", "arrow", "style"),
    [
        ("option", "-->", None),
        ("next", "-->", None),
        ("timeout", "-.->", "stroke:#888888"),
        ("invalid", "-.->", "stroke:#888888"),
        ("agent", "==>", "stroke-width:3px"),
        ("back", "-->", "stroke-dasharray"),
    ],
)
def test_mermaid_draws_each_kind_of_edge_in_its_style(menu, kind, arrow, style) -> None:
    model, parsed = graph(menu), parse_mermaid(to_mermaid(menu))
    indexes = [i for i, edge in enumerate(model.edges) if edge.kind == kind]
    assert indexes
    for index in indexes:
        assert parsed["edges"][index][3] == arrow
        if style is None:
            assert index not in parsed["links"]
        else:
            assert style in parsed["links"][index]


@pytest.mark.parametrize(
    ("node", "shape", "css"),
    [
        ("welcome", "[]", None),
        ("main", "{{}}", None),
        ("medical", "{{}}", "identity"),
        ("social", "[[]]", "identity"),
        ("ask_id", "[//]", None),
        ("agent", "([])", "agent"),
        ("no_input_limit", "(())", "ending"),
        ("invalid_limit", "(())", "ending"),
    ],
)
def test_mermaid_shapes_and_colours_nodes_by_kind(menu, node, shape, css) -> None:
    parsed = parse_mermaid(to_mermaid(menu))
    assert parsed["nodes"][node][0] == shape
    assert parsed["classes"].get(node) == css


def test_mermaid_groups_the_identify_inputs(menu: Menu) -> None:
    text = to_mermaid(menu)
    group = re.search(r"\n\s*subgraph (\w+)\[.*\n((?:.*\n)*?)\s*end\n", text)
    assert group and group[1] == graph(menu).group
    inside = parse_mermaid("flowchart TD\n" + group[2])
    assert set(inside["nodes"]) == {"ask_id", "ask_pin"} and not inside["edges"]


# ------------------------------------------------------------------------------ DOT


def test_dot_nodes_and_edges_are_the_models(menu: Menu) -> None:
    model, parsed = graph(menu), parse_dot(to_dot(menu))
    assert {name: attrs["label"] for name, attrs in parsed["nodes"].items()} == {
        node.id: node.label for node in model.nodes
    }
    edges = [(source, target, attrs.get("label", "")) for source, target, attrs in parsed["edges"]]
    assert len(edges) == len(model.edges)
    assert set(edges) == model_edges(model)


@pytest.mark.parametrize(
    ("kind", "style", "color"),
    [
        ("option", None, None),
        ("timeout", "dashed", "#888888"),
        ("invalid", "dashed", "#888888"),
        ("agent", "bold", "#c0392b"),
        ("back", "dotted", "#2563eb"),
    ],
)
def test_dot_draws_each_kind_of_edge_in_its_style(menu, kind, style, color) -> None:
    model, parsed = graph(menu), parse_dot(to_dot(menu))
    styles = {(s, t, a.get("label", "")): (a.get("style"), a.get("color")) for s, t, a in
              parsed["edges"]}  # fmt: skip
    chosen = [e for e in model.edges if e.kind == kind]
    assert chosen
    for edge in chosen:
        assert styles[(edge.source, edge.target, edge.label)] == (style, color)


@pytest.mark.parametrize(
    ("node", "shape", "fill"),
    [
        ("main", "hexagon", None),
        ("medical", "hexagon", "#fff3c4"),
        ("ask_pin", "parallelogram", None),
        ("balance", "component", "#fff3c4"),
        ("agent", "box", "#fde2e2"),
        ("invalid_limit", "octagon", "#eeeeee"),
    ],
)
def test_dot_shapes_and_colours_nodes_by_kind(menu, node, shape, fill) -> None:
    attributes = parse_dot(to_dot(menu))["nodes"][node]
    assert (attributes["shape"], attributes.get("fillcolor")) == (shape, fill)


def test_dot_uses_a_cjk_font_and_carries_a_legend(menu: Menu) -> None:
    assert FONT.startswith("Noto Sans CJK SC,")  # make install's fonts-noto-cjk, then a fallback
    parsed = parse_dot(to_dot(menu))
    dot = parsed["graph"]
    assert dot_value(dot.get_attributes()["fontname"]) == FONT
    for default in ("node", "edge"):
        (found,) = dot.get_node(default)
        assert dot_value(found.get_attributes()["fontname"]) == FONT
    legend = dot.get_attributes()["label"]
    assert menu.name in legend and "back towards the start" in legend


def test_mermaid_and_dot_draw_the_same_edges(menu: Menu, tricky: Menu) -> None:
    for each in (menu, tricky):
        mermaid = {(s, t, text) for s, t, text, _ in parse_mermaid(to_mermaid(each))["edges"]}
        dot = {(s, t, a.get("label", "")) for s, t, a in parse_dot(to_dot(each))["edges"]}
        assert mermaid == dot == model_edges(graph(each))


# ------------------------------------------------------------------------------ escaping


def test_ids_are_plain_and_never_collide(tricky: Menu) -> None:
    ids = {node.label.split("\n")[0]: node.id for node in graph(tricky).nodes}
    assert ids["end"] == "n_end"  # Mermaid's keyword
    assert ids["no_input_limit"] == "no_input_limit"  # the menu's node keeps its name
    assert ids["goodbye"] == "no_input_limit_2"  # the shared end moves aside
    assert all(re.fullmatch(r"[A-Za-z]\w*", value) for value in ids.values())


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_quotes_and_brackets_survive_in_labels(tricky: Menu, fmt: str) -> None:
    if fmt == "mermaid":
        labels = {k: text for k, (_, text) in parse_mermaid(to_mermaid(tricky))["nodes"].items()}
    else:
        labels = {k: a["label"] for k, a in parse_dot(to_dot(tricky))["nodes"].items()}
    assert labels == {node.id: node.label for node in graph(tricky).nodes}
    assert TRICKY in labels["main"].replace("\n", " ")


def test_mermaid_writes_risky_characters_as_entities(tricky: Menu) -> None:
    (line,) = [line for line in to_mermaid(tricky).splitlines() if line.strip().startswith("main{")]
    inner = line.strip()[len('main{{"') : -len('"}}')]
    assert not set(inner.replace("<br/>", "")) & set('"<>&`|'), inner
    assert "#quot;hi#quot;" in inner and "#35;1" in inner and "#35;quot;" in inner
    assert "#92;#8203;n" in inner  # Mermaid would break the line at a plain \\n


def test_dot_keeps_a_backslash_literal(tricky: Menu) -> None:
    text = to_dot(tricky)
    assert '\\"hi\\"' in text and "\\\\n" in text  # \" for the quote, \\n: no line break
    assert re.search(r"&quot;quoted&quot; \[menu\] &lt;b&gt;#1&lt;/b&gt;", text)  # the legend


# ------------------------------------------------------------------------------ render


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_text_formats_need_no_graphviz(menu, fmt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    expected = to_mermaid(menu) if fmt == "mermaid" else to_dot(menu)
    assert render(menu, fmt) == expected.encode("utf-8")


def test_an_unknown_format_names_the_formats(menu: Menu) -> None:
    with pytest.raises(ValueError, match="mermaid, dot, svg, png"):
        render(menu, "jpeg")
    assert FORMATS == ("mermaid", "dot", "svg", "png")


@pytest.mark.parametrize("fmt", ["svg", "png"])
@pytest.mark.parametrize("how", ["not on PATH", "vanished"])
def test_images_without_graphviz_say_how_to_install_it(menu, fmt, how, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot
    if how == "vanished":  # found by which, gone when run: graphviz's ExecutableNotFound
        monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: "/usr/bin/dot")
    with pytest.raises(GraphvizMissing) as caught:
        render(menu, fmt)
    message = str(caught.value)
    assert "apt-get install graphviz" in message and "make install" in message
    assert "--format mermaid" in message


def test_svg_has_a_node_per_model_node(menu: Menu, tricky: Menu) -> None:
    require_dot()
    for each in (menu, tricky):
        data = render(each, "svg")
        model = graph(each)
        assert sorted(svg_titles(data, "node")) == sorted(node.id for node in model.nodes)
        edges = {f"{edge.source}->{edge.target}" for edge in model.edges}
        assert set(svg_titles(data, "edge")) == edges


def test_svg_shows_the_labels_text(tricky: Menu) -> None:
    require_dot()
    root = ElementTree.fromstring(render(tricky, "svg"))
    texts = " ".join(element.text or "" for element in root.iter(f"{SVG}text"))
    assert TRICKY[:22] in texts and "\\n `t` #quot;" in texts and TRICKY_NAME in texts
    assert 'font-family="Noto Sans CJK SC' in render(tricky, "svg").decode("utf-8")


def test_png_is_a_png(menu: Menu) -> None:
    require_dot()
    data = render(menu, "png")
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_the_readme_picture_shows_the_current_menu(menu: Menu) -> None:
    # The README's picture is a committed file: a menu change must come with a new picture.
    redraw = (
        f"{README_SVG.relative_to(PROJECT_ROOT)} does not show the current menu: redraw it with"
        f" `python run_ivr.py menu graph --format svg -o docs/{README_SVG.name}`"
    )
    assert README_SVG.is_file(), redraw
    data, model = README_SVG.read_bytes(), graph(menu)
    assert sorted(svg_titles(data, "node")) == sorted(node.id for node in model.nodes), redraw
    edges = {f"{edge.source}->{edge.target}" for edge in model.edges}
    assert set(svg_titles(data, "edge")) == edges, redraw
    assert any(node.kind == LIMIT for node in model.nodes)


def test_the_pictures_and_the_lint_import_nothing_above_the_menu_package() -> None:
    """Edges come from ivr.core.edges, not from the softphone that shows them."""
    code = (
        "import sys, ivr.menu.graph, ivr.menu.lint, ivr.menu.picture\n"
        "above = ('ivr.softphone', 'ivr.web', 'ivr.qa', 'ivr.sim', 'ivr.cli', 'ivr.app')\n"
        "bad = [m for m in sys.modules if m.startswith(above)]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr
