"""The layout holds: imports point one way, SQL stays in store/, no module grows too big.

Read from the code with `ast`, counting imports inside functions too. Each rule is also
run on a small broken tree, so a check that silently stopped working would fail here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.architecture import (
    LAYERS,
    Project,
    cycles,
    layer_breaks,
    oversized,
    private_reaches,
    sql_outside_store,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"core", "menu", "web", "audio", "sim", "qa", "softphone", "cli"}


@pytest.fixture(scope="module")
def project() -> Project:
    """The project's own modules, parsed once."""
    return Project.read(ROOT, ["ivr", "store"], others=["benchmarks", "tests", "run_ivr.py"])


def test_ivr_shows_its_parts() -> None:
    entries = {p.name for p in (ROOT / "ivr").iterdir() if p.name != "__pycache__"}
    assert len(entries) <= 12, sorted(entries)
    assert PACKAGES <= entries
    assert entries - PACKAGES <= {"__init__.py", "app.py", "config.py", "errors.py"}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_package_says_what_it_does_and_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / "ivr" / package / "__init__.py").read_text()))
    assert doc and "import" in doc, package
    assert f"ivr.{package}" in LAYERS  # and the layer table knows it


def test_no_import_circles(project: Project) -> None:
    assert cycles(project) == []


def test_every_import_follows_the_layers(project: Project) -> None:
    assert layer_breaks(project) == []


def test_store_never_imports_ivr(project: Project) -> None:
    reaching = [(m, t) for m, t in project.edges() if m.startswith("store") and t.startswith("ivr")]
    assert reaching == []


def test_sql_lives_in_store(project: Project) -> None:
    assert sql_outside_store(project) == []


def test_nothing_reaches_for_another_packages_private_names(project: Project) -> None:
    assert private_reaches(project) == []


def test_modules_and_functions_stay_small(project: Project) -> None:
    assert oversized(project, module_lines=300, function_lines=45) == []


def test_the_layer_table_itself_has_no_circle() -> None:
    graph = {layer: {dep for dep in deps if dep in LAYERS} for layer, deps in LAYERS.items()}
    seen: list[str] = []

    def visit(layer: str, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        """Every path that comes back to a layer already on it."""
        for dep in graph[layer]:
            if dep in path:
                yield (*path, dep)
            elif dep not in seen:
                yield from visit(dep, (*path, dep))
        seen.append(layer)

    assert [loop for layer in graph for loop in visit(layer, (layer,))] == []


# --- the checks catch what they are for --------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Project:
    """A throwaway project of the given files."""
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Project.read(tmp_path, ["ivr", "store"], others=[])


def test_a_circle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    project = _tree(tmp_path, {
        "ivr/__init__.py": "",
        "ivr/web/__init__.py": "",
        "ivr/web/views.py": "from ivr.web.context import hotline\n",
        "ivr/web/context.py": "def f():\n    from ivr.web import views\n",
    })  # fmt: skip
    assert cycles(project) == [["ivr.web.context", "ivr.web.views"]]


def test_a_wrong_way_import_and_store_reaching_up_are_found(tmp_path: Path) -> None:
    project = _tree(tmp_path, {
        "ivr/__init__.py": "",
        "ivr/core/__init__.py": "",
        "ivr/core/engine.py": "import ivr.web.views\n",
        "ivr/web/__init__.py": "",
        "ivr/web/views.py": "",
        "store/__init__.py": "",
        "store/repo.py": "from ivr.core import engine\n",
    })  # fmt: skip
    assert layer_breaks(project) == [
        "ivr/core/engine.py:1: ivr.core may not import ivr.web.views",
        "store/repo.py:1: store may not import ivr.core.engine",
    ]


def test_sql_and_private_reaches_outside_store_are_found(tmp_path: Path) -> None:
    project = _tree(tmp_path, {
        "ivr/__init__.py": "",
        "ivr/web/__init__.py": "",
        "ivr/web/views.py": (
            "from sqlalchemy import select, text\n"
            "from sqlalchemy.exc import DBAPIError\n"
            "from store.models import Person\n"
            "from store.db import _hidden\n"
            "def health(connection):\n"
            "    connection.execute(text('SELECT 1'))\n"
        ),
        "store/__init__.py": "",
        "store/db.py": "def _hidden():\n    pass\n",
        "store/models.py": "",
    })  # fmt: skip
    assert sql_outside_store(project) == [
        "ivr/web/views.py:1: SQL outside store/: sqlalchemy.select",
        "ivr/web/views.py:1: SQL outside store/: sqlalchemy.text",
        "ivr/web/views.py:3: SQL outside store/: store.models (the tables)",
        "ivr/web/views.py:6: SQL outside store/: .execute()",
    ]
    assert private_reaches(project) == ["ivr/web/views.py:4: store.db._hidden"]


def test_a_long_module_and_a_long_function_are_found(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(50))
    project = _tree(tmp_path, {"ivr/__init__.py": "", "ivr/big.py": "def f():\n" + body})
    assert oversized(project, module_lines=40, function_lines=45) == [
        "ivr/big.py: 51 lines (at most 40)",
        "ivr/big.py:1: f is 51 lines (at most 45)",
    ]
