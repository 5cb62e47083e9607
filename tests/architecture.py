"""The project's import graph, read with `ast`, and the layout rules tests/test_architecture.py
holds it to: the layers, no circles, SQL only in store/, private names kept, small modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# What each layer may import besides itself (prefixes of module names), from the bottom up.
# store/ is the bottom and imports nothing of ivr/; ivr.core may use only store's plain
# modules (records, errors, number rules), never the database.
LAYERS: dict[str, set[str]] = {
    layer: set(allowed.split())
    for layer, allowed in {
        "store": "",
        "ivr.errors": "store.errors",
        "ivr.config": "ivr.errors",
        "ivr.core": "ivr.errors store.records store.errors store.id_numbers",
        "ivr.menu": "ivr.core ivr.errors",
        "ivr.audio": "ivr.core ivr.errors",
        "ivr.sim": "ivr.core ivr.errors",
        "ivr.qa": "ivr.sim ivr.menu ivr.core ivr.errors",
        "ivr.web": "ivr.audio ivr.menu ivr.core ivr.config ivr.errors store",
        "ivr.softphone": "ivr.web ivr.qa ivr.sim ivr.menu ivr.core ivr.config ivr.errors store",
        "ivr.cli": "ivr.softphone ivr.web ivr.qa ivr.sim ivr.audio ivr.menu ivr.core ivr.config"
        " ivr.errors store",
        "ivr.app": "ivr.cli ivr.softphone ivr.web ivr.audio ivr.menu ivr.core ivr.config"
        " ivr.errors store",  # the factory: everything, and registers the commands
        "ivr": "ivr.app",  # ivr.create_app, imported when first called
    }.items()
}
# What code outside store/ may take from SQLAlchemy: errors to catch, and types to pass on.
SQLALCHEMY_PLUMBING = {
    ("sqlalchemy", "Engine"), ("sqlalchemy", "Connection"), ("sqlalchemy", "make_url"),
    ("sqlalchemy.orm", "Session"), ("sqlalchemy.orm", "sessionmaker"),
}  # fmt: skip
STATEMENT_CALLS = {"execute", "exec_driver_sql", "executemany", "scalar", "scalars"}


@dataclass(frozen=True)
class Module:
    """One parsed source file."""

    name: str  # dotted, e.g. ivr.web.views
    path: str  # relative to the project root, for messages
    tree: ast.Module
    lines: int


@dataclass(frozen=True)
class Project:
    """The modules of `packages` (checked for layers and circles) and of `others`."""

    modules: dict[str, Module]
    others: dict[str, Module]

    @classmethod
    def read(cls, root: Path, packages: list[str], others: list[str]) -> Project:
        """Parse every .py file of the packages and of the other folders or files."""
        return cls(_parse(root, packages), _parse(root, others))

    def everything(self) -> Iterator[Module]:
        """Every parsed module, the packages' first."""
        yield from self.modules.values()
        yield from self.others.values()

    def resolve(self, name: str) -> str | None:
        """The package module a dotted import name lands in (None: not the project's)."""
        while name and name not in self.modules:
            name = name.rpartition(".")[0]
        return name or None

    def imports(self, module: Module) -> Iterator[tuple[str, int]]:
        """(project module imported, line) for each import, in functions too."""
        for node in ast.walk(module.tree):
            for name in _imported_names(module, node):
                target = self.resolve(name)
                if target and target != module.name:
                    yield target, node.lineno

    def edges(self) -> list[tuple[str, str]]:
        """Every (importer, imported) pair among the packages' modules."""
        return sorted({(m.name, t) for m in self.modules.values() for t, _ in self.imports(m)})


def _parse(root: Path, places: Iterable[str]) -> dict[str, Module]:
    """Parse the .py files under each place (a folder or one file)."""
    found = {}
    for place in places:
        files = [root / place] if place.endswith(".py") else sorted((root / place).rglob("*.py"))
        for path in files:
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            text = path.read_text(encoding="utf-8")
            rel = path.relative_to(root).as_posix()
            found[name] = Module(name, rel, ast.parse(text, rel), len(text.splitlines()))
    return found


def _imported_names(module: Module, node: ast.AST) -> Iterator[str]:
    """The dotted names an import statement brings in (`from a import b` gives a.b)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(module, node)
        for alias in node.names:
            yield f"{base}.{alias.name}" if alias.name != "*" else base


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module name of a `from` import, relative ones included."""
    if not node.level:
        return node.module or ""
    is_package = module.path.endswith("__init__.py")
    package = module.name if is_package else module.name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def layer_of(name: str) -> str:
    """The layer of a module: store, ivr, ivr.app or ivr.<package>."""
    parts = name.split(".")
    if parts[0] != "ivr" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2])


def cycles(project: Project) -> list[list[str]]:
    """Every import circle among the packages' modules, as a sorted list of its members."""
    graph: dict[str, set[str]] = {name: set() for name in project.modules}
    for source, target in project.edges():
        graph[source].add(target)
    return sorted(sorted(c) for c in _strongly_connected(graph) if len(c) > 1)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components, iteratively (no recursion limit on a long chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    found.append(_pop_component(stack, node))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in stack:
                low[node] = min(low[node], index[child])
    return found


def _pop_component(stack: list[str], root: str) -> list[str]:
    """Take one finished component off Tarjan's stack."""
    component = []
    while True:
        name = stack.pop()
        component.append(name)
        if name == root:
            return component


def layer_breaks(project: Project) -> list[str]:
    """Every import that points up or sideways past LAYERS, as path:line: message."""
    found = []
    for module in project.modules.values():
        layer = layer_of(module.name)
        allowed = LAYERS.get(layer, set())
        for target, line in project.imports(module):
            if layer_of(target) == layer or _under(target, allowed):
                continue
            found.append(f"{module.path}:{line}: {layer} may not import {target}")
    return sorted(set(found))


def _under(name: str, prefixes: Iterable[str]) -> bool:
    """True when a module is one of the prefixes or inside one."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def sql_outside_store(project: Project) -> list[str]:
    """Query building, statements and the tables anywhere in ivr/."""
    found: list[tuple[int, str, str]] = []
    for module in project.modules.values():
        if not module.name.startswith("ivr"):
            continue
        for node in ast.walk(module.tree):
            for problem in _sql_problems(node):
                found.append((node.lineno, module.path, problem))
    return [f"{path}:{line}: SQL outside store/: {what}" for line, path, what in sorted(found)]


def _sql_problems(node: ast.AST) -> Iterator[str]:
    """What in one node is SQL: a query builder, the tables, or a statement run."""
    if isinstance(node, ast.ImportFrom) and node.module:
        if node.module == "store.models" or node.module.startswith("store.models."):
            yield "store.models (the tables)"
        elif node.module.split(".")[0] == "sqlalchemy" and node.module != "sqlalchemy.exc":
            for alias in node.names:
                if (node.module, alias.name) not in SQLALCHEMY_PLUMBING:
                    yield f"{node.module}.{alias.name}"
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == "store.models" or alias.name.split(".")[0] == "sqlalchemy":
                yield alias.name
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in STATEMENT_CALLS:
            yield f".{node.func.attr}()"


def private_reaches(project: Project) -> list[str]:
    """Every `_name` taken from a module of another package, by import or attribute."""
    found = []
    for module in project.everything():
        mine = layer_of(module.name)
        aliases = _module_aliases(project, module)
        for node in ast.walk(module.tree):
            for target, name in _private_uses(project, module, node, aliases):
                if layer_of(target) != mine:
                    found.append(f"{module.path}:{node.lineno}: {target}.{name}")
    return sorted(found)


def _module_aliases(project: Project, module: Module) -> dict[str, str]:
    """Local names bound to the project's modules by imports."""
    aliases = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in project.modules:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in project.modules:
                    aliases[alias.asname] = alias.name
    return aliases


def _private_uses(
    project: Project, module: Module, node: ast.AST, aliases: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """(module, private name) pairs one node takes from the project's modules."""
    if isinstance(node, ast.ImportFrom) and project.resolve(_absolute(module, node)):
        base = _absolute(module, node)
        for alias in node.names:
            if _private(alias.name) and project.resolve(base) == base:
                yield base, alias.name
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        target = aliases.get(node.value.id)
        if target and _private(node.attr):
            yield target, node.attr


def _private(name: str) -> bool:
    """A leading underscore, not a dunder."""
    return name.startswith("_") and not name.startswith("__")


def oversized(project: Project, module_lines: int, function_lines: int) -> list[str]:
    """Modules and functions of the packages over their size (migrations excepted)."""
    found = []
    for module in project.modules.values():
        if ".migrations" in module.name:
            continue  # Alembic revisions are written once and never read as code to carry on
        if module.lines > module_lines:
            found.append(f"{module.path}: {module.lines} lines (at most {module_lines})")
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > function_lines:
                    found.append(f"{module.path}:{node.lineno}: {node.name} is {length} lines"
                                 f" (at most {function_lines})")  # fmt: skip
    return found
