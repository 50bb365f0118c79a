"""The PostgreSQL store (asyncpg): for production, and for several server processes.

Every limit and lease is enforced in the database (row locks, advisory locks: see
``dialect``), so any number of Outlast processes can share one database.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from outlast.domain import QueueItem
from outlast.protocol.ids import now_ms
from outlast.store import leasing, pg_functions
from outlast.store.conn import Row
from outlast.store.dialect import POSTGRES
from outlast.store.failures import StoreFailure, causes
from outlast.store.interface import Store
from outlast.store.migrations import has_statements, migrations
from outlast.store.rows import CheckpointStep, StepDone, item_row
from outlast.store.session import Session

log = logging.getLogger(__name__)

#: asyncpg's errors for a server that is away for now: connection lost or refused,
#: shutting down or starting up (class 57), out of connections or memory (class 53), and
#: the network's errors (plus asyncpg's "connection is closed", checked by its text).
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    OSError,
)

#: Any constant: the advisory lock that serialises migrations across processes.
_MIGRATION_LOCK = 7_271_830_117
_numbered = POSTGRES.placeholders
_LEASE_FREE = _numbered(leasing.lease_free_sql(POSTGRES))


def _count(status: str) -> int:
    # asyncpg returns the command tag: "UPDATE 3", "INSERT 0 1", "DELETE 0".
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class _Conn:
    def __init__(self, conn: Any) -> None:
        # A pooled connection proxy or a plain connection.
        self.conn = conn

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return _count(await self.conn.execute(_numbered(sql), *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.conn.executemany(_numbered(sql), rows)

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in await self.conn.fetch(_numbered(sql), *args)]

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        r = await self.conn.fetchrow(_numbered(sql), *args)
        return None if r is None else tuple(r)


async def _keep_session_state(conn: asyncpg.Connection) -> None:
    """Pool connections are given back as they are: Outlast sets no session state, takes
    no advisory lock outside migrations (which release theirs) and opens no cursor, so
    asyncpg's reset query would be one more round trip per transaction for nothing."""


class PostgresStore(Store):
    """PostgreSQL at ``dsn`` (``postgresql://user@host:port/db``)."""

    kind = POSTGRES.name
    dialect = POSTGRES
    shared = True
    writers = 4

    def __init__(
        self, dsn: str, *, schema: str | None = None, min_size: int = 2, max_size: int = 20
    ) -> None:
        self.dsn = dsn
        #: A schema of its own (created if missing): lets tests and tenants share a database.
        self.schema = schema
        self._pool: asyncpg.Pool | None = None
        self._min = min_size
        self._max = max_size

    async def open(self, *, readonly: bool = False) -> None:
        settings: dict[str, str] = {}
        if self.schema:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", self.schema):
                raise ValueError(f"invalid schema name {self.schema!r}")
            if not readonly:
                conn = await asyncpg.connect(self.dsn)
                try:
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                finally:
                    await conn.close()
            settings["search_path"] = self.schema
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self._min,
            max_size=self._max,
            server_settings=settings,
            reset=_keep_session_state,
        )
        if readonly:
            return
        async with self._pool.acquire() as pooled:
            await self._migrate(pooled)

    async def _migrate(self, conn: Any) -> None:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            )
            done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations(POSTGRES.name):
                if version in done:
                    continue
                log.info("applying migration", extra={"migration": name})
                async with conn.transaction():
                    if has_statements(sql):  # asyncpg refuses a query of comments only
                        await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES ($1, $2, $3)",
                        version,
                        name,
                        now_ms(),
                    )
            replaced = await pg_functions.ensure(conn)
            if replaced:
                log.info("replaced functions", extra={"functions": replaced})
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    def failure(self, exc: BaseException) -> StoreFailure | None:
        for e in causes(exc):
            if isinstance(e, asyncpg.DiskFullError):
                return StoreFailure.FULL
            if isinstance(e, _UNAVAILABLE):
                return StoreFailure.UNAVAILABLE
            if isinstance(e, asyncpg.InterfaceError) and "closed" in str(e):
                return StoreFailure.UNAVAILABLE
            if isinstance(e, asyncpg.exceptions.InternalClientError) and "in progress" in str(e):
                # A pooled connection left mid-operation when the server went away (seen
                # right after PostgreSQL restarts); the work is released and done again.
                return StoreFailure.UNAVAILABLE
        return super().failure(exc)

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Session]:
        async with self._p().acquire() as conn, conn.transaction():
            yield Session(_Conn(conn), POSTGRES)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Session]:
        async with self._p().acquire() as conn:
            yield Session(_Conn(conn), POSTGRES)

    async def lease(self, owner: str, now: int, limit: int, lease_ms: int) -> list[QueueItem]:
        async with self._p().acquire() as conn:
            first_keyed = await conn.fetchval(leasing.KEYED_FIRST_DUE)
            if first_keyed is None or first_keyed > now:
                # Nothing under a concurrency limit is ready: one statement.
                rows = await conn.fetch(
                    _LEASE_FREE,
                    now + lease_ms,
                    owner,
                    now,
                    limit,
                )
                return sorted((item_row(tuple(r)) for r in rows), key=lambda i: i.id)
            async with conn.transaction():
                return await leasing.lease(
                    _Conn(conn),
                    owner,
                    now,
                    limit,
                    lease_ms,
                    POSTGRES,
                )

    async def save_checkpoints(self, batch: Sequence[CheckpointStep]) -> list[str]:
        """One round trip and one commit for the whole batch: the ``outlast_checkpoint``
        function (``pg_functions``: the same checks and statements as the general
        implementation) applied to each step, runs locked in id order."""
        order = sorted(range(len(batch)), key=lambda i: batch[i].run_id)
        cols = list(zip(*(dataclasses.astuple(batch[i]) for i in order), strict=True))
        async with self._p().acquire() as conn:
            rows = await conn.fetch(
                "SELECT a.n, outlast_checkpoint(a.run, a.item, a.attempt, a.hash, a.name, "
                "a.op, a.memo, a.started, a.now) FROM unnest($1::text[], $2::bigint[], "
                "$3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], "
                "$9::bigint[]) WITH ORDINALITY "
                "AS a(run, item, attempt, hash, name, op, memo, started, now, n) ORDER BY a.n",
                *cols,
            )
        out = [""] * len(batch)
        for r in rows:
            out[order[int(r[0]) - 1]] = str(r[1])
        return out

    async def steps_done(self, batch: Sequence[StepDone]) -> list[tuple[QueueItem, int] | None]:
        """One round trip and one commit for the whole batch: the ``outlast_step_done``
        function (``pg_functions``: the same statements as the general implementation) is
        applied to each answer in order."""
        # Runs are locked in id order, so two batches can never wait on each other.
        order = sorted(range(len(batch)), key=lambda i: batch[i].run_id)
        cols = list(zip(*(dataclasses.astuple(batch[i]) for i in order), strict=True))
        async with self._p().acquire() as conn:
            rows = await conn.fetch(
                "SELECT a.n, f.* FROM unnest($1::text[], $2::bigint[], $3::text[], "
                "$4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], "
                "$9::bigint[], $10::bigint[], $11::text[]) WITH ORDINALITY "
                "AS a(run, item, hash, name, op, memo, started, attempts, now, due, owner, n) "
                "CROSS JOIN LATERAL outlast_step_done(a.run, a.item, a.hash, a.name, a.op, "
                "a.memo, a.started, a.attempts, a.now, a.due, a.owner) AS f ORDER BY a.n",
                *cols,
            )
        out: list[tuple[QueueItem, int] | None] = [None] * len(batch)
        for r in rows:
            out[order[int(r[0]) - 1]] = (item_row(tuple(r)[1:9]), int(r[9]))
        return out
