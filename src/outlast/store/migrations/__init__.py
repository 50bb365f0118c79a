"""Versioned schema migrations: ``<kind>/NNNN_name.sql``, applied in order, once each."""

from __future__ import annotations

from importlib import resources


def migrations(kind: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration of a store kind, in order."""
    folder = resources.files(__package__).joinpath(kind)
    out: list[tuple[int, str, str]] = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            out.append((version, entry.name, entry.read_text()))
    return sorted(out)


def has_statements(sql: str) -> bool:
    """Whether a migration does anything: one that only one database needs is comments
    only on the other."""
    return any(line.strip() and not line.strip().startswith("--") for line in sql.splitlines())
