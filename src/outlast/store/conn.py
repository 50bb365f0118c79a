"""The minimal connection interface the shared SQL is written against."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Row = Sequence[Any]


class Conn(Protocol):
    """A connection speaking SQL with ``?`` placeholders (translated by the implementation)."""

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None: ...
