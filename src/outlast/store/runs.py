"""Runs and their steps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from outlast.domain import RunRecord, RunStatus, StepRecord, StepStatus
from outlast.protocol.jsonutil import dumps_str
from outlast.store.rows import (
    RUN_COLS,
    STEP_COLS,
    NewRun,
    Queries,
    j,
    run_row,
    step_row,
    uj,
)


class RunQueries(Queries):
    #: Push a step hash on a run's stack (a JSON array) in one statement: (hash, run id).
    append_to_stack = "UPDATE runs SET stack = json_insert(stack, '$[#]', ?) WHERE id = ?"

    async def lock_run(self, run_id: str) -> RunRecord | None:
        """Read a run and hold its row until the transaction ends."""
        r = await self.c.fetchone(
            f"SELECT {RUN_COLS} FROM runs WHERE id = ?{self.for_update}", (run_id,)
        )
        return None if r is None else run_row(r)

    # -- runs -----------------------------------------------------------------------------

    async def create_runs(self, runs: Iterable[NewRun]) -> list[RunRecord]:
        """Insert runs; a run with a (function, key) already taken is skipped. Each key is
        claimed in one statement (the upsert's row lock), so two processes cannot both
        take it."""
        created: list[RunRecord] = []
        for nr in runs:
            run = nr.run
            if not await self._claim_keys(run, nr.keys):
                continue
            limits = [*nr.concurrency, (None, None), (None, None)]
            await self.c.execute(
                f"INSERT INTO runs ({RUN_COLS}, ckey, climit, ckey2, climit2) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.function_id,
                    run.status.value,
                    run.event_id,
                    dumps_str(run.events),
                    run.queued_at,
                    run.started_at,
                    run.ended_at,
                    j(run.output),
                    j(run.error),
                    dumps_str(run.stack),
                    j(run.parent),
                    run.batch_id,
                    limits[0][0],
                    limits[0][1],
                    limits[1][0],
                    limits[1][1],
                ),
            )
            created.append(run)
        return created

    async def _claim_keys(self, run: RunRecord, keys: Iterable[tuple[str, int]]) -> bool:
        for key, expires in keys:
            claimed = await self.c.fetchone(
                "INSERT INTO run_keys (function_id, key, run_id, expires_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (function_id, key) DO UPDATE SET "
                "run_id = excluded.run_id, expires_at = excluded.expires_at "
                "WHERE run_keys.expires_at <= ? RETURNING run_id",
                (run.function_id, key, run.id, expires, run.queued_at),
            )
            if claimed is None:
                return False
        return True

    async def get_run(self, run_id: str) -> RunRecord | None:
        r = await self.c.fetchone(f"SELECT {RUN_COLS} FROM runs WHERE id = ?", (run_id,))
        return None if r is None else run_row(r)

    async def runs_for_event(self, event_id: str) -> list[RunRecord]:
        """The runs an event started, including the batch run it was part of."""
        rows = await self.c.fetch(
            f"SELECT {RUN_COLS} FROM runs WHERE event_id = ? OR batch_id IN "
            "(SELECT batch_id FROM batch_events WHERE event_id = ?) ORDER BY id",
            (event_id, event_id),
        )
        return [run_row(r) for r in rows]

    async def list_runs(
        self,
        *,
        function_id: str | None = None,
        status: RunStatus | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Newest first. RUNNING includes QUEUED runs, as the REST API shows both as Running."""
        sql = f"SELECT {RUN_COLS} FROM runs"
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
        return [run_row(r) for r in await self.c.fetch(sql, args)]

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
            f"SELECT {RUN_COLS} FROM runs WHERE function_id = ? AND status IN (?, ?) "
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
        return [run_row(r) for r in rows]

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
                j(output),
                j(error),
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
        return {r[0]: uj(r[1]) for r in rows}

    async def list_steps(self, run_id: str) -> list[StepRecord]:
        rows = await self.c.fetch(
            f"SELECT {STEP_COLS} FROM steps WHERE run_id = ? "
            "ORDER BY COALESCE(started_at, scheduled_at, ended_at), hash",
            (run_id,),
        )
        return [step_row(r) for r in rows]

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
            f"INSERT INTO steps ({STEP_COLS}) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, 0) "
            "ON CONFLICT (run_id, hash) DO UPDATE SET status = excluded.status, "
            "op = excluded.op, name = COALESCE(excluded.name, steps.name), "
            "attempts = COALESCE(?, steps.attempts), error = COALESCE(excluded.error, steps.error)",
            (run_id, step_hash, name, op, status.value, attempts or 0, j(error), now, attempts),
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
            f"INSERT INTO steps ({STEP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
            "ON CONFLICT (run_id, hash) DO UPDATE SET status = excluded.status, "
            # A wait or invoke is resolved without its op (""): keep the one recorded.
            "op = COALESCE(NULLIF(excluded.op, ''), steps.op), "
            "name = COALESCE(excluded.name, steps.name), "
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
                j(error),
                now,
                started_at,
                now,
            ),
        )
        if not n:
            return False
        await self.c.execute(self.append_to_stack, (step_hash, run_id))
        return True
