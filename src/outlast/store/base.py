"""The Store interface and its SQL, written once for every database.

A :class:`Session` wraps one connection. ``store.tx()`` gives a session inside a
transaction (everything in it commits together or not at all); ``store.read()``
gives one for reads. Dialect differences live in the small subclasses. The queries are
grouped by what they touch: apps, functions and events here, runs and steps in
``runs``, the queue and waits in ``queue``, event batches in ``batches``, flow-control state in
``flow``, what only the dashboard reads (failed attempts, skipped events, run counts) in
``dashboard``; leasing (with concurrency limits) in ``leasing``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson

from outlast.domain import App, EventRecord, FunctionRecord, QueueItem, RunStatus, StepStatus
from outlast.protocol.jsonutil import dumps_str, loads
from outlast.store.batches import BatchQueries
from outlast.store.dashboard import DashboardQueries
from outlast.store.flow import FlowQueries
from outlast.store.manage import ManageQueries
from outlast.store.queue import QueueQueries
from outlast.store.rows import CheckpointStep, NewItem, NewRun, StepDone, event_row
from outlast.store.runs import RunQueries

__all__ = ["CheckpointStep", "NewItem", "NewRun", "Session", "StepDone", "Store"]

#: Events per INSERT statement (4 parameters each: under SQLite's and PostgreSQL's limits).
EVENT_INSERT_CHUNK = 250


class Session(RunQueries, QueueQueries, BatchQueries, ManageQueries, FlowQueries, DashboardQueries):
    """Every query Outlast makes, over one connection."""

    # -- apps and functions ---------------------------------------------------------------

    async def get_app(self, app_id: str) -> App | None:
        r = await self.c.fetchone(
            "SELECT id, url, sdk, framework, checksum, synced_at, error FROM apps WHERE id = ?",
            (app_id,),
        )
        return None if r is None else App(*r)

    async def list_apps(self) -> list[App]:
        rows = await self.c.fetch(
            "SELECT id, url, sdk, framework, checksum, synced_at, error FROM apps ORDER BY id"
        )
        return [App(*r) for r in rows]

    async def put_app(self, app: App, functions: Sequence[FunctionRecord], now: int) -> None:
        """Replace an app and its functions (pause flags of kept functions survive)."""
        await self.c.execute(
            "INSERT INTO apps (id, url, sdk, framework, checksum, synced_at, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET url = excluded.url, "
            "sdk = excluded.sdk, framework = excluded.framework, checksum = excluded.checksum, "
            "synced_at = excluded.synced_at, error = excluded.error",
            (app.id, app.url, app.sdk, app.framework, app.checksum, app.synced_at, app.error),
        )
        keep = [f.id for f in functions]
        existing = await self.c.fetch("SELECT id FROM functions WHERE app_id = ?", (app.id,))
        for (fid,) in existing:
            if fid not in keep:
                await self.c.execute("DELETE FROM functions WHERE id = ?", (fid,))
        for f in functions:
            await self.c.execute(
                "INSERT INTO functions (id, app_id, name, config, paused, updated_at) "
                "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (id) DO UPDATE SET "
                "app_id = excluded.app_id, name = excluded.name, config = excluded.config, "
                "updated_at = excluded.updated_at",
                (f.id, f.app_id, f.name, dumps_str(f.config), now),
            )

    async def set_app_error(self, app_id: str, error: str | None) -> None:
        await self.c.execute("UPDATE apps SET error = ? WHERE id = ?", (error, app_id))

    async def delete_app(self, app_id: str) -> bool:
        await self.c.execute("DELETE FROM functions WHERE app_id = ?", (app_id,))
        return await self.c.execute("DELETE FROM apps WHERE id = ?", (app_id,)) > 0

    async def list_functions(self) -> list[FunctionRecord]:
        rows = await self.c.fetch(
            "SELECT id, app_id, name, config, paused FROM functions ORDER BY id"
        )
        return [FunctionRecord(r[0], r[1], r[2], loads(r[3]), bool(r[4])) for r in rows]

    async def functions_version(self) -> tuple[int, int]:
        """Changes whenever functions change: (count, newest update)."""
        r = await self.c.fetchone("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM functions")
        assert r is not None
        return int(r[0]), int(r[1])

    # -- events ---------------------------------------------------------------------------

    async def insert_events(self, events: Sequence[EventRecord]) -> set[str]:
        """Insert events; return the internal ids that were new (a retried send is not).
        One statement per chunk of rows: a batch of events costs one round trip, not one
        per event."""
        new: set[str] = set()
        for i in range(0, len(events), EVENT_INSERT_CHUNK):
            chunk = events[i : i + EVENT_INSERT_CHUNK]
            rows = ", ".join("(?, ?, ?, ?)" for _ in chunk)
            args = [
                value
                for e in chunk
                for value in (e.internal_id, e.name, dumps_str(e.payload), e.received_at)
            ]
            inserted = await self.c.fetch(
                f"INSERT INTO events (internal_id, name, payload, received_at) VALUES {rows} "
                "ON CONFLICT (internal_id) DO NOTHING RETURNING internal_id",
                args,
            )
            new.update(r[0] for r in inserted)
        return new

    async def get_event(self, internal_id: str) -> EventRecord | None:
        r = await self.c.fetchone(
            "SELECT internal_id, name, payload, received_at FROM events WHERE internal_id = ?",
            (internal_id,),
        )
        return None if r is None else event_row(r)

    async def list_events(
        self, *, name: str | None = None, before: str | None = None, limit: int = 50
    ) -> list[EventRecord]:
        """Newest first; ``before`` is an internal id cursor."""
        sql = "SELECT internal_id, name, payload, received_at FROM events"
        where: list[str] = []
        args: list[Any] = []
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if before is not None:
            where.append("internal_id < ?")
            args.append(before)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY internal_id DESC LIMIT ?"
        args.append(limit)
        return [event_row(r) for r in await self.c.fetch(sql, args)]

    async def events_named_since(self, name: str, since: int, limit: int) -> list[EventRecord]:
        """Events called ``name`` received at or after ``since``, oldest first."""
        rows = await self.c.fetch(
            "SELECT internal_id, name, payload, received_at FROM events "
            "WHERE name = ? AND received_at >= ? ORDER BY received_at, internal_id LIMIT ?",
            (name, since, limit),
        )
        return [event_row(r) for r in rows]


class Store(abc.ABC):
    """A database Outlast keeps its state in."""

    #: "sqlite" or "postgres"
    kind: str
    #: Whether other server processes may change it (functions synced or paused elsewhere).
    shared: bool = False
    #: How many transactions are worth running at once (group commits in flight): one for
    #: an embedded database with one writer; several where each statement is a round trip.
    writers: int = 1

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def tx(self) -> AbstractAsyncContextManager[Session]:
        """A session in a transaction: commits on exit, rolls back on error."""

    @abc.abstractmethod
    def read(self) -> AbstractAsyncContextManager[Session]:
        """A session for reads outside a transaction."""

    @abc.abstractmethod
    async def lease(self, owner: str, now: int, limit: int, lease_ms: int) -> list[QueueItem]:
        """Take up to ``limit`` ready queue items for ``lease_ms``, oldest first."""

    async def steps_done(self, batch: Sequence[StepDone]) -> list[tuple[QueueItem, int] | None]:
        """For each answer: save the finished step and turn the call's item into the run's
        next discovery call, leased to ``d.owner`` (what ``Machine.apply`` does for this
        answer). All in one transaction: a group commit of the answers that arrived
        together. Each result is the item and the run's stack length after it, or None
        (nothing written for it) when the run is not running: the caller then takes the
        general path for that one."""
        async with self.tx() as s:
            return [await _step_done(s, d) for d in batch]

    async def save_checkpoints(self, batch: Sequence[CheckpointStep]) -> list[str]:
        """Save checkpointed steps, all in one transaction; runs are locked in id order so
        two batches cannot deadlock. For each: "saved" (also when the step was already
        done), or why nothing was written for it: "no_run", "not_running:<status>",
        "stale_call" (its call is no longer the run's current one)."""
        out = [""] * len(batch)
        async with self.tx() as s:
            for i in sorted(range(len(batch)), key=lambda i: batch[i].run_id):
                out[i] = await _save_checkpoint(s, batch[i])
        return out

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _step_done(s: Session, d: StepDone) -> tuple[QueueItem, int] | None:
    r = await s.c.fetchone(
        f"SELECT status, stack FROM runs WHERE id = ?{s.for_update}", (d.run_id,)
    )
    if r is None or r[0] != RunStatus.RUNNING.value:
        return None
    saved = await s.complete_step(
        d.run_id,
        d.step,
        name=d.name,
        op=d.op,
        memo=orjson.Fragment(d.memo),  # already encoded
        status=StepStatus.COMPLETED,
        now=d.now,
        started_at=d.started_at,
        attempts=d.attempts,
    )
    item = await s.reuse_item(d.item_id, d.due_at, d.owner)
    if item is None:
        return None
    return item, len(loads(r[1])) + (1 if saved else 0)


async def _save_checkpoint(s: Session, c: CheckpointStep) -> str:
    run = await s.lock_run(c.run_id)
    if run is None:
        return "no_run"
    if run.status is not RunStatus.RUNNING:
        return f"not_running:{run.status.value}"
    item = await s.get_item(c.item_id)
    if item is None or item.run_id != c.run_id or item.attempt != c.attempt:
        return "stale_call"
    await s.complete_step(
        c.run_id,
        c.step,
        name=c.name,
        op=c.op,
        memo=orjson.Fragment(c.memo),  # already encoded
        status=StepStatus.COMPLETED,
        now=c.now,
        started_at=c.started_at,
        attempts=c.attempt + 1,
    )
    return "saved"
