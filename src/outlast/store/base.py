"""The Store interface and its SQL, written once for every database.

A :class:`Session` wraps one connection. ``store.tx()`` gives a session inside a
transaction (everything in it commits together or not at all); ``store.read()``
gives one for reads. Dialect differences live in the small subclasses.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from outlast.domain import (
    App,
    EventRecord,
    FunctionRecord,
    QueueItem,
    QueueKind,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    Wait,
    WaitKind,
)
from outlast.protocol.jsonutil import dumps_str, loads
from outlast.store.conn import Conn, Row


def _j(value: Any) -> str | None:
    return None if value is None else dumps_str(value)


def _uj(text: str | None) -> Any:
    return None if text is None else loads(text)


@dataclass(frozen=True, slots=True)
class NewItem:
    """A queue item to insert."""

    kind: QueueKind
    run_id: str | None
    due_at: int
    step: str | None = None
    payload: dict[str, Any] | None = None
    attempt: int = 0
    dedupe_key: str | None = None
    #: Insert the item already leased by this worker (it goes on to run it itself).
    lease_owner: str | None = None


@dataclass(frozen=True, slots=True)
class NewRun:
    run: RunRecord
    #: (key, expires_at): at most one run per (function, key) while unexpired.
    key: tuple[str, int] | None = None


_RUN_COLS = (
    "id, function_id, status, event_id, events, queued_at, started_at, ended_at, "
    "output, error, stack, parent"
)
_STEP_COLS = (
    "run_id, hash, name, op, status, attempts, memo, error, scheduled_at, started_at, "
    "ended_at, done"
)
_WAIT_COLS = "id, run_id, kind, step, event_name, expression, event, correlation_id, expires_at"
_ITEM_COLS = "id, run_id, kind, step, payload, attempt, due_at"


def _run(r: Row) -> RunRecord:
    return RunRecord(
        id=r[0],
        function_id=r[1],
        status=RunStatus(r[2]),
        event_id=r[3],
        events=loads(r[4]),
        queued_at=r[5],
        started_at=r[6],
        ended_at=r[7],
        output=_uj(r[8]),
        error=_uj(r[9]),
        stack=loads(r[10]),
        parent=_uj(r[11]),
    )


def _step(r: Row) -> StepRecord:
    return StepRecord(
        run_id=r[0],
        hash=r[1],
        name=r[2],
        op=r[3],
        status=StepStatus(r[4]),
        attempts=r[5],
        memo=_uj(r[6]),
        error=_uj(r[7]),
        scheduled_at=r[8],
        started_at=r[9],
        ended_at=r[10],
        done=bool(r[11]),
    )


def _wait(r: Row) -> Wait:
    return Wait(
        id=r[0],
        run_id=r[1],
        kind=WaitKind(r[2]),
        step=r[3],
        event_name=r[4],
        expression=r[5],
        event=_uj(r[6]),
        correlation_id=r[7],
        expires_at=r[8],
    )


def _item(r: Row) -> QueueItem:
    return QueueItem(
        id=r[0],
        run_id=r[1],
        kind=QueueKind(r[2]),
        step=r[3],
        payload=_uj(r[4]),
        attempt=r[5],
        due_at=r[6],
    )


def _event(r: Row) -> EventRecord:
    return EventRecord(internal_id=r[0], name=r[1], payload=loads(r[2]), received_at=r[3])


class Session:
    """Every query Outlast makes, over one connection."""

    #: Row-lock suffix: PostgreSQL needs it so concurrent transactions on one run serialise;
    #: SQLite has one writer at a time already.
    for_update = ""

    def __init__(self, conn: Conn) -> None:
        self.c = conn

    async def lock_run(self, run_id: str) -> RunRecord | None:
        """Read a run and hold its row until the transaction ends."""
        r = await self.c.fetchone(
            f"SELECT {_RUN_COLS} FROM runs WHERE id = ?{self.for_update}", (run_id,)
        )
        return None if r is None else _run(r)

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
        """Insert events; return the internal ids that were new (a retried send is not)."""
        new: set[str] = set()
        for e in events:
            n = await self.c.execute(
                "INSERT INTO events (internal_id, name, payload, received_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (internal_id) DO NOTHING",
                (e.internal_id, e.name, dumps_str(e.payload), e.received_at),
            )
            if n:
                new.add(e.internal_id)
        return new

    async def get_event(self, internal_id: str) -> EventRecord | None:
        r = await self.c.fetchone(
            "SELECT internal_id, name, payload, received_at FROM events WHERE internal_id = ?",
            (internal_id,),
        )
        return None if r is None else _event(r)

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
        return [_event(r) for r in await self.c.fetch(sql, args)]

    async def events_named_since(self, name: str, since: int, limit: int) -> list[EventRecord]:
        """Events called ``name`` received at or after ``since``, oldest first."""
        rows = await self.c.fetch(
            "SELECT internal_id, name, payload, received_at FROM events "
            "WHERE name = ? AND received_at >= ? ORDER BY received_at, internal_id LIMIT ?",
            (name, since, limit),
        )
        return [_event(r) for r in rows]

    # -- runs -----------------------------------------------------------------------------

    async def create_runs(self, runs: Iterable[NewRun]) -> list[RunRecord]:
        """Insert runs; a run whose (function, key) is already taken is skipped."""
        created: list[RunRecord] = []
        for nr in runs:
            run = nr.run
            if nr.key is not None:
                key, expires = nr.key
                taken = await self.c.fetchone(
                    "SELECT expires_at FROM run_keys WHERE function_id = ? AND key = ?",
                    (run.function_id, key),
                )
                if taken is not None and taken[0] > run.queued_at:
                    continue
                await self.c.execute(
                    "INSERT INTO run_keys (function_id, key, run_id, expires_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (function_id, key) DO UPDATE SET "
                    "run_id = excluded.run_id, expires_at = excluded.expires_at",
                    (run.function_id, key, run.id, expires),
                )
            await self.c.execute(
                f"INSERT INTO runs ({_RUN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.function_id,
                    run.status.value,
                    run.event_id,
                    dumps_str(run.events),
                    run.queued_at,
                    run.started_at,
                    run.ended_at,
                    _j(run.output),
                    _j(run.error),
                    dumps_str(run.stack),
                    _j(run.parent),
                ),
            )
            created.append(run)
        return created

    async def get_run(self, run_id: str) -> RunRecord | None:
        r = await self.c.fetchone(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", (run_id,))
        return None if r is None else _run(r)

    async def runs_for_event(self, event_id: str) -> list[RunRecord]:
        rows = await self.c.fetch(
            f"SELECT {_RUN_COLS} FROM runs WHERE event_id = ? ORDER BY id", (event_id,)
        )
        return [_run(r) for r in rows]

    async def list_runs(
        self,
        *,
        function_id: str | None = None,
        status: RunStatus | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Newest first. RUNNING includes QUEUED runs, as the REST API shows both as Running."""
        sql = f"SELECT {_RUN_COLS} FROM runs"
        where: list[str] = []
        args: list[Any] = []
        if function_id is not None:
            where.append("function_id = ?")
            args.append(function_id)
        if status is RunStatus.RUNNING:
            where.append("status IN (?, ?)")
            args += [RunStatus.RUNNING.value, RunStatus.QUEUED.value]
        elif status is not None:
            where.append("status = ?")
            args.append(status.value)
        if before is not None:
            where.append("id < ?")
            args.append(before)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_run(r) for r in await self.c.fetch(sql, args)]

    async def unfinished_runs(
        self,
        function_id: str,
        *,
        queued_after: int,
        queued_before: int,
        after_id: str = "",
        limit: int = 500,
    ) -> list[RunRecord]:
        """Queued or running runs of a function queued strictly between the two times,
        oldest first; ``after_id`` (the last id of the previous page) pages on."""
        rows = await self.c.fetch(
            f"SELECT {_RUN_COLS} FROM runs WHERE function_id = ? AND status IN (?, ?) "
            "AND queued_at > ? AND queued_at < ? AND id > ? ORDER BY id LIMIT ?",
            (
                function_id,
                RunStatus.QUEUED.value,
                RunStatus.RUNNING.value,
                queued_after,
                queued_before,
                after_id,
                limit,
            ),
        )
        return [_run(r) for r in rows]

    async def start_run(self, run_id: str, now: int) -> bool:
        """Mark a queued run running; False when it was not queued any more."""
        return (
            await self.c.execute(
                "UPDATE runs SET status = ?, started_at = ? WHERE id = ? AND status = ?",
                (RunStatus.RUNNING.value, now, run_id, RunStatus.QUEUED.value),
            )
            > 0
        )

    async def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        now: int,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Mark a run finished; False if it already was (a cancel raced the end)."""
        n = await self.c.execute(
            "UPDATE runs SET status = ?, ended_at = ?, output = ?, error = ? "
            "WHERE id = ? AND status IN (?, ?)",
            (
                status.value,
                now,
                _j(output),
                _j(error),
                run_id,
                RunStatus.QUEUED.value,
                RunStatus.RUNNING.value,
            ),
        )
        if n:
            await self.c.execute("DELETE FROM queue WHERE run_id = ?", (run_id,))
            await self.c.execute("DELETE FROM waits WHERE run_id = ?", (run_id,))
        return n > 0

    # -- steps ----------------------------------------------------------------------------

    async def load_memos(self, run_id: str) -> dict[str, Any]:
        rows = await self.c.fetch(
            "SELECT hash, memo FROM steps WHERE run_id = ? AND done = 1", (run_id,)
        )
        return {r[0]: _uj(r[1]) for r in rows}

    async def list_steps(self, run_id: str) -> list[StepRecord]:
        rows = await self.c.fetch(
            f"SELECT {_STEP_COLS} FROM steps WHERE run_id = ? "
            "ORDER BY COALESCE(started_at, scheduled_at, ended_at), hash",
            (run_id,),
        )
        return [_step(r) for r in rows]

    async def upsert_step(
        self,
        run_id: str,
        step_hash: str,
        *,
        name: str | None,
        op: str,
        status: StepStatus,
        now: int,
        attempts: int | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Record a step that is not finished yet (planned, sleeping, retrying ...)."""
        await self.c.execute(
            f"INSERT INTO steps ({_STEP_COLS}) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, 0) "
            "ON CONFLICT (run_id, hash) DO UPDATE SET status = excluded.status, "
            "op = excluded.op, name = COALESCE(excluded.name, steps.name), "
            "attempts = COALESCE(?, steps.attempts), error = COALESCE(excluded.error, steps.error)",
            (run_id, step_hash, name, op, status.value, attempts or 0, _j(error), now, attempts),
        )

    async def complete_step(
        self,
        run_id: str,
        step_hash: str,
        *,
        name: str | None,
        op: str,
        memo: Any,
        status: StepStatus,
        now: int,
        started_at: int | None,
        attempts: int,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Save a step's memo and push it on the run's stack; False if it was already done."""
        n = await self.c.execute(
            f"INSERT INTO steps ({_STEP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
            "ON CONFLICT (run_id, hash) DO UPDATE SET status = excluded.status, "
            "op = excluded.op, name = COALESCE(excluded.name, steps.name), "
            "attempts = excluded.attempts, memo = excluded.memo, error = excluded.error, "
            "started_at = COALESCE(excluded.started_at, steps.started_at), "
            "ended_at = excluded.ended_at, done = 1 WHERE steps.done = 0",
            (
                run_id,
                step_hash,
                name,
                op,
                status.value,
                attempts,
                dumps_str(memo),
                _j(error),
                now,
                started_at,
                now,
            ),
        )
        if not n:
            return False
        r = await self.c.fetchone("SELECT stack FROM runs WHERE id = ?", (run_id,))
        if r is not None:
            stack = loads(r[0])
            stack.append(step_hash)
            await self.c.execute(
                "UPDATE runs SET stack = ? WHERE id = ?", (dumps_str(stack), run_id)
            )
        return True

    # -- queue ----------------------------------------------------------------------------

    async def enqueue(self, items: Sequence[NewItem]) -> None:
        for it in items:
            await self.c.execute(
                "INSERT INTO queue (run_id, kind, step, payload, attempt, due_at, dedupe_key, "
                "lease_owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
                (
                    it.run_id,
                    it.kind.value,
                    it.step,
                    _j(it.payload),
                    it.attempt,
                    it.due_at,
                    it.dedupe_key,
                    it.lease_owner,
                ),
            )

    async def enqueue_one(self, it: NewItem) -> QueueItem | None:
        """Insert one item and return it (None when its dedupe key is taken)."""
        r = await self.c.fetchone(
            "INSERT INTO queue (run_id, kind, step, payload, attempt, due_at, dedupe_key, "
            "lease_owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING "
            f"RETURNING {_ITEM_COLS}",
            (
                it.run_id,
                it.kind.value,
                it.step,
                _j(it.payload),
                it.attempt,
                it.due_at,
                it.dedupe_key,
                it.lease_owner,
            ),
        )
        return None if r is None else _item(r)

    async def delete_item(self, item_id: int) -> bool:
        return await self.c.execute("DELETE FROM queue WHERE id = ?", (item_id,)) > 0

    async def delete_item_by_key(self, dedupe_key: str) -> bool:
        return await self.c.execute("DELETE FROM queue WHERE dedupe_key = ?", (dedupe_key,)) > 0

    async def retry_item(self, item_id: int, due_at: int, attempt: int) -> None:
        await self.c.execute(
            "UPDATE queue SET due_at = ?, attempt = ?, lease_owner = NULL WHERE id = ?",
            (due_at, attempt, item_id),
        )

    async def pending_steps(self, run_id: str) -> int:
        r = await self.c.fetchone(
            "SELECT COUNT(*) FROM queue WHERE run_id = ? AND kind = ?",
            (run_id, QueueKind.STEP.value),
        )
        return int(r[0]) if r else 0

    async def next_due_at(self) -> int | None:
        r = await self.c.fetchone("SELECT MIN(due_at) FROM queue")
        return None if r is None or r[0] is None else int(r[0])

    async def extend_leases(self, owner: str, until: int) -> None:
        await self.c.execute(
            "UPDATE queue SET due_at = ? WHERE lease_owner = ? AND due_at < ?",
            (until, owner, until),
        )

    async def queue_size(self) -> int:
        r = await self.c.fetchone("SELECT COUNT(*) FROM queue")
        return int(r[0]) if r else 0

    # -- waits ----------------------------------------------------------------------------

    async def insert_waits(self, waits: Sequence[Wait]) -> None:
        for w in waits:
            await self.c.execute(
                "INSERT INTO waits (run_id, kind, step, event_name, expression, event, "
                "correlation_id, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    w.run_id,
                    w.kind.value,
                    w.step,
                    w.event_name,
                    w.expression,
                    _j(w.event),
                    w.correlation_id,
                    w.expires_at,
                ),
            )

    async def waits_for_events(self, names: Sequence[str]) -> list[Wait]:
        if not names:
            return []
        marks = ", ".join("?" for _ in names)
        rows = await self.c.fetch(
            f"SELECT {_WAIT_COLS} FROM waits WHERE event_name IN ({marks}) ORDER BY id",
            list(names),
        )
        return [_wait(r) for r in rows]

    async def wait_for_correlation(self, correlation_id: str) -> Wait | None:
        r = await self.c.fetchone(
            f"SELECT {_WAIT_COLS} FROM waits WHERE correlation_id = ?", (correlation_id,)
        )
        return None if r is None else _wait(r)

    async def last_step_end(self, run_id: str) -> int | None:
        """When the run's most recently finished step finished (None before any)."""
        r = await self.c.fetchone(
            "SELECT MAX(ended_at) FROM steps WHERE run_id = ? AND done = 1", (run_id,)
        )
        return None if r is None or r[0] is None else int(r[0])

    async def wait_of_step(self, run_id: str, step_hash: str) -> Wait | None:
        """The event wait a run's step has registered, if any."""
        r = await self.c.fetchone(
            f"SELECT {_WAIT_COLS} FROM waits WHERE run_id = ? AND step = ? AND kind = ?",
            (run_id, step_hash, WaitKind.WAIT.value),
        )
        return None if r is None else _wait(r)

    async def take_wait(self, run_id: str, step_hash: str) -> bool:
        """Remove a run's wait on a step; True for the one caller that removed it."""
        n = await self.c.execute(
            "DELETE FROM waits WHERE run_id = ? AND step = ? AND kind IN (?, ?)",
            (run_id, step_hash, WaitKind.WAIT.value, WaitKind.INVOKE.value),
        )
        return n > 0


class Store(abc.ABC):
    """A database Outlast keeps its state in."""

    #: "sqlite" or "postgres"
    kind: str

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

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
