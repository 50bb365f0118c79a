"""The embedded SQLite store (WAL): one writer connection, one reader connection.

Statements run on the event loop's own thread, not in a worker thread: an indexed SQLite
statement takes microseconds, and WAL with ``synchronous=NORMAL`` writes a commit to the
page cache without waiting for the disk, so this is far cheaper than a thread hand-off per
statement — and a transaction no longer holds the write lock across event-loop turns while
a hundred calls are in flight (which made every write wait behind them). SQLite allows one
writer at a time: transactions are serialised by an asyncio lock. Readers never block the
writer (WAL). ``synchronous=NORMAL`` keeps every committed transaction through a process
crash (``kill -9``); only a power loss can drop the last ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from outlast.domain import QueueItem
from outlast.protocol.ids import now_ms
from outlast.store import leasing
from outlast.store.conn import Row
from outlast.store.dialect import SQLITE
from outlast.store.failures import StoreFailure, causes
from outlast.store.interface import Store
from outlast.store.migrations import migrations
from outlast.store.session import Session

log = logging.getLogger(__name__)

#: SQLite's messages for failures that pass (another process's lock, a disk that came
#: back): the others are bugs.
_TRANSIENT = re.compile(r"locked|busy|disk I/O error|unable to open|readonly")


class _Conn:
    """:class:`~outlast.store.conn.Conn` over a ``sqlite3`` connection, run inline."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.db.execute(sql, args).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return self.db.execute(sql, args).fetchall()

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.db.execute(sql, args).fetchone()
        return row


class SQLiteStore(Store):
    """SQLite at ``path`` (a file, or ``:memory:`` for tests)."""

    kind = SQLITE.name
    dialect = SQLITE

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._readonly_uri = "" if self.in_memory else f"{Path(path).absolute().as_uri()}?mode=ro"
        self._writer: _Conn | None = None
        self._reader: _Conn | None = None
        self._lock = asyncio.Lock()

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    async def _connect(self, readonly: bool = False) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions, tx() says BEGIN and COMMIT.
        if readonly:
            db = sqlite3.connect(
                self._readonly_uri, uri=True, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA busy_timeout = 10000")
            return db
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("PRAGMA foreign_keys = OFF")
        if not self.in_memory:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        return db

    async def open(self, *, readonly: bool = False) -> None:
        if readonly and not self.in_memory:
            self._writer = self._reader = _Conn(await self._connect(readonly=True))
            return
        if not self.in_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = _Conn(await self._connect())
        await self._migrate(self._writer)
        # One server owns a SQLite file, so work leased by a previous (crashed) process is
        # free to run again now rather than when its lease runs out.
        await self._writer.execute(
            "UPDATE queue SET due_at = ?, lease_owner = NULL WHERE lease_owner IS NOT NULL",
            (now_ms(),),
        )
        self._reader = self._writer if self.in_memory else _Conn(await self._connect())

    async def _migrate(self, c: _Conn) -> None:
        await c.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        done = {r[0] for r in await c.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in migrations(SQLITE.name):
            if version in done:
                continue
            log.info("applying migration", extra={"migration": name})
            # Our own files: the version and name are safe to inline.
            record = (
                "INSERT INTO schema_migrations (version, name, applied_at) "
                f"VALUES ({version}, '{name}', {now_ms()});"
            )
            c.db.executescript(f"BEGIN IMMEDIATE;\n{sql}\n{record}\nCOMMIT;")

    async def close(self) -> None:
        for c in {id(x): x for x in (self._writer, self._reader) if x is not None}.values():
            c.db.close()
        self._writer = self._reader = None

    def _w(self) -> _Conn:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    def failure(self, exc: BaseException) -> StoreFailure | None:
        for e in causes(exc):
            if isinstance(e, sqlite3.OperationalError | sqlite3.DatabaseError):
                if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
                    "full" in str(e)
                ):
                    return StoreFailure.FULL
                if isinstance(e, sqlite3.OperationalError) and _TRANSIENT.search(str(e)):
                    return StoreFailure.UNAVAILABLE
        return super().failure(exc)

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Session]:
        w = self._w()
        async with self._lock:
            w.db.execute("BEGIN IMMEDIATE")
            try:
                yield Session(w, SQLITE)
            except BaseException:
                w.db.execute("ROLLBACK")
                raise
            w.db.execute("COMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Session]:
        if self._reader is None:
            raise RuntimeError("store is not open")
        yield Session(self._reader, SQLITE)

    async def lease(self, owner: str, now: int, limit: int, lease_ms: int) -> list[QueueItem]:
        async with self.tx() as s:
            return await leasing.lease(s.c, owner, now, limit, lease_ms, s.dialect)
