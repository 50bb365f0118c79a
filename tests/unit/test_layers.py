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
