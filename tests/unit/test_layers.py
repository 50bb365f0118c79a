"""The architecture, enforced: which package may import which (style.md, house rules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "outlast"

#: package -> packages it must never import.
FORBIDDEN = {
    "sdk": {"engine", "store", "server", "cli"},
    "protocol": {"sdk", "engine", "store", "server", "cli"},
    "domain": {"sdk", "engine", "store", "server", "cli"},
    "store": {"sdk", "engine", "server", "cli"},
    "engine": {"sdk", "server", "cli"},
    "server": {"sdk", "cli"},
}


def imported_packages(path: Path) -> set[str]:
    """The ``outlast.<package>`` names a module imports (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "outlast" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_keeps_to_its_layer(package: str) -> None:
    bad = []
    for path in sorted((SRC / package).rglob("*.py")):
        for imported in imported_packages(path) & FORBIDDEN[package]:
            bad.append(f"{path.relative_to(SRC)} imports outlast.{imported}")
    assert bad == []


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_imports() -> dict[str, set[str]]:
    """Each ``outlast.engine`` module -> the engine modules it imports, wherever the import
    stands (inside a function or under ``TYPE_CHECKING`` too: those hide a cycle, they do
    not remove it)."""
    modules = {module_name(p): p for p in sorted((SRC / "engine").rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_engine_has_no_import_cycles() -> None:
    graph = engine_imports()
    assert "outlast.engine.lifecycle" in graph and graph["outlast.engine.machine"]
    assert cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_lifecycle_imports_no_op_or_timer_handler() -> None:
    """The run lifecycle is what handlers build on: it must not depend on any of them."""
    graph = engine_imports()
    seen: set[str] = set()
    todo = ["outlast.engine.lifecycle"]
    while todo:
        for dep in graph[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    handlers = {"outlast.engine.machine", "outlast.engine.ops", "outlast.engine.timers"}
    assert sorted(m for m in seen if any(m.startswith(h) for h in handlers)) == []


def test_no_relative_imports_hide_a_layer_break() -> None:
    relative = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        relative += [
            f"{path.relative_to(SRC)}:{n.lineno}"
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.level > 0
        ]
    assert relative == []
