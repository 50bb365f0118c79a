"""Runs and their steps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ulid import ULID

from outlast.domain import RunRecord, RunStatus, StepAttempt, StepRecord, StepStatus
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
from outlast.store.step_finished import STEP_FINISHED, positional, stack_push


class RunQueries(Queries):
    async def lock_run(self, run_id: str) -> RunRecord | None:
        """Read a run and hold its row until the transaction ends."""
        r = await self.c.fetchone(
            f"SELECT {RUN_COLS} FROM runs WHERE id = ?{self.dialect.for_update}", (run_id,)
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
        # Two indexed reads: with OR, PostgreSQL scanned every run.
        rows = await self.c.fetch(
            f"SELECT {RUN_COLS} FROM runs WHERE event_id = ? UNION ALL "
            f"SELECT {RUN_COLS} FROM runs WHERE batch_id IN "
            "(SELECT batch_id FROM batch_events WHERE event_id = ?) "
            "AND (event_id IS NULL OR event_id <> ?) ORDER BY id",
            (event_id, event_id, event_id),
        )
        return [run_row(r) for r in rows]

    async def list_runs(
        self,
        *,
        function_id: str | None = None,
        status: RunStatus | None = None,
        before: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Newest first; ``before`` is a run id cursor (the last id of the previous page).
        RUNNING includes QUEUED runs, as the REST API shows both as Running. ``since`` and
        ``until`` keep runs queued in ``[since, until)`` (ms).

        Each page is one index range read backwards from the cursor, whatever the store
        holds: by id, (status, id) or (function_id, status, id). A run's id is the ULID of
        its queued time (``Machine.new_run``), so the time window is an id range too."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        where: list[str] = []
        args: list[Any] = []
        if function_id is not None:
            where.append("function_id = ?")
            args.append(function_id)
        if before is not None:
            where.append("id < ?")
            args.append(before)
        if since is not None:
            where += ["queued_at >= ?", "id >= ?"]
            args += [since, _first_id_at(since)]
        if until is not None:
            where.append("queued_at < ?")
            args.append(until)
            if until < _ULID_MAX_MS:
                where.append("id < ?")
                args.append(_first_id_at(until))
        if status is RunStatus.RUNNING:
            statuses = [RunStatus.RUNNING, RunStatus.QUEUED]
        else:
            statuses = [] if status is None else [status]
        if len(statuses) < 2:
            conds = [*(["status = ?"] if statuses else []), *where]
            sql = self._runs_page(conds)
            return [
                run_row(r)
                for r in await self.c.fetch(sql, [*(s.value for s in statuses), *args, limit])
            ]
        # One ordered, limited read per status, merged: an IN over two statuses cannot be
        # read in id order from the (…, status, id) indexes, and would be sorted whole.
        parts = [
            f"SELECT * FROM ({self._runs_page(['status = ?', *where])}) AS p{i}"
            for i in range(len(statuses))
        ]
        sql = " UNION ALL ".join(parts) + " ORDER BY id DESC LIMIT ?"
        part_args = [v for s in statuses for v in (s.value, *args, limit)]
        return [run_row(r) for r in await self.c.fetch(sql, [*part_args, limit])]

    @staticmethod
    def _runs_page(conds: list[str]) -> str:
        where = " WHERE " + " AND ".join(conds) if conds else ""
        return f"SELECT {RUN_COLS} FROM runs{where} ORDER BY id DESC LIMIT ?"

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
        values = {
            "run": run_id,
            "hash": step_hash,
            "name": name,
            "op": op,
            "status": status.value,
            "attempts": attempts,
            "memo": dumps_str(memo),
            "error": j(error),
            "now": now,
            "started": started_at,
        }
        sql, names = positional(STEP_FINISHED)
        if not await self.c.execute(sql, [values[n] for n in names]):
            return False
        sql, names = positional(stack_push(self.dialect))
        await self.c.execute(sql, [values[n] for n in names])
        if status is StepStatus.FAILED and error is not None:
            # Its last attempt failed (its code, or the server refused what it asked for):
            # recorded with the others. A step that succeeds writes no attempt.
            await self.add_step_attempts(
                [StepAttempt(run_id, step_hash, max(attempts - 1, 0), started_at, now, error)]
            )
        return True

    async def add_step_attempts(self, attempts: Sequence[StepAttempt]) -> None:
        """Record failed attempts (see :class:`~outlast.domain.StepAttempt`)."""
        for i in range(0, len(attempts), _ATTEMPT_CHUNK):
            chunk = attempts[i : i + _ATTEMPT_CHUNK]
            rows = ", ".join("(?, ?, ?, ?, ?, ?)" for _ in chunk)
            args = [
                value
                for a in chunk
                for value in (a.run_id, a.hash, a.attempt, a.started_at, a.ended_at, j(a.error))
            ]
            await self.c.execute(
                "INSERT INTO step_attempts (run_id, hash, attempt, started_at, ended_at, error) "
                f"VALUES {rows}",
                args,
            )

    async def list_step_attempts(self, run_id: str) -> list[StepAttempt]:
        """A run's failed attempts, by step hash then attempt (then time: discovery calls
        may share an attempt number). A rerun starts with none: ``copy_steps`` copies
        finished steps only."""
        rows = await self.c.fetch(
            "SELECT run_id, hash, attempt, started_at, ended_at, error FROM step_attempts "
            "WHERE run_id = ? ORDER BY hash, attempt, ended_at, id",
            (run_id,),
        )
        return [StepAttempt(r[0], r[1], int(r[2]), r[3], int(r[4]), uj(r[5])) for r in rows]


#: Failed attempts per INSERT statement (6 parameters each).
_ATTEMPT_CHUNK = 150
#: A ULID's time part is 48 bits of milliseconds.
_ULID_MAX_MS = 2**48


def _first_id_at(ms: int) -> str:
    """The smallest ULID of millisecond ``ms``: ``id >= _first_id_at(t)`` keeps the runs
    queued at or after ``t``."""
    return str(ULID.from_bytes(min(max(ms, 0), _ULID_MAX_MS - 1).to_bytes(6, "big") + bytes(10)))
