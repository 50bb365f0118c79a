"""Run management: pausing functions, finding the events a replay starts runs for, and
copying a run's finished steps into its rerun."""

from __future__ import annotations

from collections.abc import Sequence

from outlast.domain import EventRecord, FunctionRecord
from outlast.protocol.jsonutil import loads
from outlast.store.rows import STEP_COLS, Queries, event_row

#: Values per ``IN (...)`` list: far under SQLite's and PostgreSQL's parameter limits.
_IN_CHUNK = 500


class ManageQueries(Queries):
    async def get_function(self, function_id: str) -> FunctionRecord | None:
        r = await self.c.fetchone(
            "SELECT id, app_id, name, config, paused FROM functions WHERE id = ?", (function_id,)
        )
        return None if r is None else FunctionRecord(r[0], r[1], r[2], loads(r[3]), bool(r[4]))

    async def set_function_paused(
        self, function_id: str, paused: bool, now: int
    ) -> FunctionRecord | None:
        """Set a function's pause flag; None when there is no such function.

        A change moves the function's ``updated_at`` past every other function's, so
        ``functions_version()`` changes and every server process reloads its registry.
        Setting the flag it already has changes nothing.
        """
        r = await self.c.fetchone("SELECT COALESCE(MAX(updated_at), 0) FROM functions")
        stamp = max(now, int(r[0]) + 1) if r is not None else now
        await self.c.execute(
            "UPDATE functions SET paused = ?, updated_at = ? WHERE id = ? AND paused <> ?",
            (int(paused), stamp, function_id, int(paused)),
        )
        return await self.get_function(function_id)

    async def events_without_run(
        self,
        function_id: str,
        names: Sequence[str],
        *,
        since: int,
        until: int,
        after: tuple[int, str],
        limit: int,
    ) -> list[EventRecord]:
        """Events called one of ``names``, received in ``[since, until)``, that started no
        run of the function (alone, or in a batch, open or run); oldest first. ``after``
        is the (received_at, internal_id) of the last event of the previous page."""
        if not names:
            return []
        marks = ", ".join("?" for _ in names)
        rows = await self.c.fetch(
            "SELECT e.internal_id, e.name, e.payload, e.received_at FROM events e "
            f"WHERE e.name IN ({marks}) AND e.received_at >= ? AND e.received_at < ? "
            "AND (e.received_at > ? OR (e.received_at = ? AND e.internal_id > ?)) "
            "AND NOT EXISTS (SELECT 1 FROM runs r "
            "WHERE r.event_id = e.internal_id AND r.function_id = ?) "
            "AND NOT EXISTS (SELECT 1 FROM batch_events b WHERE b.event_id = e.internal_id "
            "AND (EXISTS (SELECT 1 FROM batches o WHERE o.id = b.batch_id AND o.function_id = ?) "
            "OR EXISTS (SELECT 1 FROM runs r2 "
            "WHERE r2.batch_id = b.batch_id AND r2.function_id = ?))) "
            "ORDER BY e.received_at, e.internal_id LIMIT ?",
            (
                *names,
                since,
                until,
                after[0],
                after[0],
                after[1],
                function_id,
                function_id,
                function_id,
                limit,
            ),
        )
        return [event_row(r) for r in rows]

    async def copy_steps(self, from_run: str, to_run: str, hashes: Sequence[str]) -> int:
        """Copy finished steps (memo, status, times) of one run into another."""
        cols = STEP_COLS.split(", ", 1)[1]
        copied = 0
        for i in range(0, len(hashes), _IN_CHUNK):
            chunk = hashes[i : i + _IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            copied += await self.c.execute(
                f"INSERT INTO steps ({STEP_COLS}) SELECT ?, {cols} FROM steps "
                f"WHERE run_id = ? AND done = 1 AND hash IN ({marks})",
                (to_run, from_run, *chunk),
            )
        return copied

    async def set_original_run(self, run_id: str, original_run_id: str) -> None:
        await self.c.execute(
            "UPDATE runs SET original_run_id = ? WHERE id = ?", (original_run_id, run_id)
        )

    async def original_runs(self, run_ids: Sequence[str]) -> dict[str, str]:
        """The run each rerun among ``run_ids`` was started from."""
        found: dict[str, str] = {}
        for i in range(0, len(run_ids), _IN_CHUNK):
            chunk = run_ids[i : i + _IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.c.fetch(
                f"SELECT id, original_run_id FROM runs WHERE id IN ({marks}) "
                "AND original_run_id IS NOT NULL",
                chunk,
            )
            found.update({r[0]: r[1] for r in rows})
        return found
