"""The house: the code's layout, read from its imports.

A package is a stage; stages import downwards only: no two modules import each other, no two
folders do either (a folder that imports from another may not be imported back by it), and
the connectors, which read the outside world, know neither the pipeline nor the lake.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "connectors", "schemas", "benchmarks", "tools")
LAKE_FOLDERS = re.compile(r"""["'/](_index|_runs|_staging|_lease|_catalog|_state|_lake\.json)\b""")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules a file imports, anywhere in it (inside functions too)."""
    wanted = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        wanted.update(name for name in names if name in modules)
    return wanted


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _folder(module: str, modules: dict[str, Path]) -> str:
    return str(modules[module].parent.relative_to(ROOT))


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, if it has any."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return [*path[path.index(child) :], child]
            if child not in state and (found := visit(child)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_two_modules_import_each_other():
    assert _cycle(_graph()) is None


def test_no_import_runs_back_up_a_floor():
    modules = _modules()
    folders: dict[str, set[str]] = {}
    for module, imported in _graph().items():
        here = _folder(module, modules)
        folders.setdefault(here, set()).update(
            there for name in imported if (there := _folder(name, modules)) != here
        )
    assert _cycle(folders) is None


def test_connectors_know_neither_the_pipeline_nor_the_lake():
    graph = _graph()
    for module, imported in graph.items():
        if module.split(".")[0] == "connectors":
            assert not {name for name in imported if name.startswith("pipeline")}, module
    for path in (ROOT / "connectors").rglob("*.py"):
        assert not LAKE_FOLDERS.search(path.read_text(encoding="utf-8")), path


def test_every_folder_of_code_is_a_package():
    for package in ("pipeline", "connectors"):
        for folder in (ROOT / package).rglob("*"):
            if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
                assert (folder / "__init__.py").exists(), folder
