"""`menu` commands: check a menu file, draw it, print it as a tree.

They read the menu file itself (IVR_MENU by default), not the app: a broken menu, which
stops the app from starting, is exactly what they must be able to look at.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from ivr.config import from_environ
from ivr.core.edges import spoken
from ivr.core.model import Menu, NodeType
from ivr.menu.load import Checked, check_menu
from ivr.menu.picture import label, links, phrases_label
from ivr.menu.source import Problem, Severity

console = Console()
SUFFIXES = {".mmd": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot", ".svg": "svg",
            ".png": "png"}  # fmt: skip
MENU_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group("menu")
def menu() -> None:
    """Check, draw and print a menu file (IVR_MENU unless a FILE is given)."""


def _file(file: Path | None) -> Path:
    """The menu file a command works on: FILE, else IVR_MENU."""
    return file if file is not None else Path(from_environ()["IVR_MENU"])


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to here when it is below here."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_problems(problems: list[Problem], out: Console = console) -> None:
    """One line per problem, as file:line: key: message, then its fix."""
    for p in problems:
        colour = "red" if p.severity == Severity.ERROR else "yellow"
        where = f"{_shown(p.file)}:{p.line}" if p.line else _shown(p.file)
        key = f" [bold]{escape(p.key)}[/]:" if p.key else ""
        out.print(f"{escape(where)}: [{colour}]{p.severity}[/] [dim]\\[{p.rule}][/]{key}"
                  f" {escape(p.message)}", soft_wrap=True)  # fmt: skip
        if p.hint:
            out.print(f"    fix: {escape(p.hint)}", soft_wrap=True)


def _summary(checked: Checked) -> str:
    """ "2 errors, 1 warning in prompts/12333.yaml (3 files)"."""
    errors, warnings = len(checked.errors), len(checked.warnings)
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    return f"{counts} in {_shown(checked.path)} ({len(checked.files) or 1} file(s) read)"


@menu.command("check")
@click.argument("file", type=MENU_FILE, required=False)
@click.option("--strict", is_flag=True, help="Fail on warnings too (unreachable nodes, "
              "option keys the prompt never announces).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def check(file: Path | None, strict: bool, as_json: bool) -> None:
    """Lint a menu FILE and its prompt files; exit 1 on any error (or warning, --strict).

    Checks unknown targets, unreachable nodes, dead ends, duplicate keys, keys that clash
    with * (repeat), # (back) and 0 (agent), prompts missing in a language, and option
    keys the menu's prompt never announces ("按三", "press three").
    """
    checked = check_menu(_file(file))
    if as_json:
        rows = [{"file": str(p.file), "line": p.line, "key": p.key, "rule": p.rule,
                 "severity": str(p.severity), "message": p.message, "hint": p.hint}
                for p in checked.problems]  # fmt: skip
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print_problems(checked.problems)
        ok = not checked.errors and not (strict and checked.warnings)
        colour = "green" if ok else "red"
        console.print(f"[{colour}]{escape(_summary(checked))}[/]", soft_wrap=True)
    if checked.errors or (strict and checked.warnings):
        raise SystemExit(1)


def _loaded(file: Path | None) -> Menu:
    """A menu that has no errors, or exit 1 after listing them."""
    checked = check_menu(_file(file))
    if checked.errors or checked.menu is None:
        print_problems(checked.errors, Console(stderr=True))
        raise click.ClickException(f"{_summary(checked)}: fix it first (`menu check`)")
    return checked.menu


@menu.command("graph")
@click.argument("file", type=MENU_FILE, required=False)
@click.option("-f", "--format", "fmt", type=click.Choice(["mermaid", "dot", "svg", "png"]),
              help="Output format [from -o's suffix, else mermaid]. svg and png need "
                   "Graphviz's `dot` (make install gets it).")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")  # fmt: skip
def graph(file: Path | None, fmt: str | None, output: Path | None) -> None:
    """Draw the menu tree: nodes with their prompt, keys on the edges, timeout, invalid-key
    and agent paths styled apart (a legend says how)."""
    from ivr.menu.graph import render

    fmt = fmt or SUFFIXES.get(output.suffix.lower() if output else "", "mermaid")
    if output is None and fmt in ("svg", "png") and sys.stdout.isatty():
        raise click.UsageError(f"{fmt} is binary: write it to a file with -o menu.{fmt}")
    data = render(_loaded(file), fmt)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    output.write_bytes(data)
    console.print(f"Wrote {escape(_shown(output.resolve()))} ({fmt}, {len(data)} bytes)")


@menu.command("show")
@click.argument("file", type=MENU_FILE, required=False)
def show(file: Path | None) -> None:
    """Print the menu tree in the terminal: keys, nodes and what each one says."""
    console.print(menu_tree(_loaded(file)))


def menu_tree(menu: Menu) -> Tree:
    """The menu as a rich Tree: each node once, under the node that reaches it first."""
    gated = any(node.requires_identity for node in menu.nodes.values())
    home = _homes(menu, gated)
    root = Tree(f"[bold]{escape(menu.name)}[/]  [dim]({escape(_shown(menu.source))})[/]")

    def grow(branch: Tree, name: str, path: tuple[str, ...] = ()) -> None:
        """Add `name`'s links under its branch, expanding the children whose home it is."""
        for link in links(menu, menu.nodes[name]):
            target = link.target
            key = f"[cyan]{escape(link.key)}[/] → " if link.key else "→ "
            if link.kind == "more":  # the statement's paging key stays, for the next page
                branch.add(f"{key}[dim]more (the next, older page)[/]")
            if link.kind in ("timeout", "invalid") or target == name:
                continue  # every waiting node has these; the limits are in the README
            if home.get(target) != name:
                where = "back up" if target in path else f"see under {home.get(target)}"
                branch.add(f"{key}[dim]{escape(target)} ({escape(where)})[/]")
            else:
                grow(branch.add(key + _node_text(menu, target)), target, (*path, name))
        keyed = {name, *menu.nodes[name].options.values()}
        for edge in spoken(menu, menu.nodes[name]):
            if edge.target not in keyed:  # a deep link, or the agent said from any menu
                branch.add(f"[magenta]say[/] → [dim]{escape(str(edge.target))} (no key)[/]")

    grow(root.add(_node_text(menu, menu.start)), menu.start)
    if gated and home[menu.identify] is None and menu.identify != menu.start:
        gate = root.add("[magenta]identity check[/], before the nodes marked 🔒:")
        grow(gate.add(_node_text(menu, menu.identify)), menu.identify)
    for name in (n for n in menu.nodes if n not in home):
        root.add(f"[yellow]unreachable:[/] {_node_text(menu, name)}")
    return root


def _homes(menu: Menu, gated: bool) -> dict[str, str | None]:
    """The node that reaches each node first by keys and `next` (breadth first; None at the
    start and at `identify`, which the engine itself sends unverified callers to)."""
    home: dict[str, str | None] = {}
    for first in (menu.start, menu.identify) if gated else (menu.start,):
        if first in home:
            continue
        home[first], queue = None, [first]
        for name in queue:
            for link in links(menu, menu.nodes[name]):
                if link.target not in home:
                    home[link.target] = name
                    queue.append(link.target)
    return home


def _node_text(menu: Menu, name: str) -> str:
    """A node's line: name, type, identity mark and its short prompt."""
    node = menu.nodes[name]
    lock = " 🔒" if node.requires_identity else ""
    what = node.service.value if node.service else node.type.value
    colour = "green" if node.type == NodeType.AGENT else "bold"
    text = label(menu, node) if node.prompts else ""
    said = " ".join(filter(None, (phrases_label(menu, node, lang) for lang in menu.languages)))
    said = f" [magenta]say {escape(said)}[/]" if said else ""
    return (
        f"[{colour}]{escape(name)}[/] [dim]({escape(what)}){lock}[/] {escape(text)}{said}".rstrip()
    )
