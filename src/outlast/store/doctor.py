"""The invariant every fault must leave true: an unfinished run always has something that
will move it on. ``outlast doctor`` and the fault tests list the runs for which it fails."""

from __future__ import annotations

from outlast.domain import RunRecord, RunStatus, WaitKind
from outlast.store.rows import RUN_COLS, Queries, run_row

_UNFINISHED = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
#: Waits that resume a run (a cancel rule only ever ends one).
_RESUMING = (WaitKind.WAIT.value, WaitKind.INVOKE.value)


class DoctorQueries(Queries):
    async def stuck_runs(self, limit: int = 1000) -> list[RunRecord]:
        """Unfinished runs with no queue item (a call, a retry, a sleep's or a timeout's
        timer) and no wait for an event or an invoked run: nothing will ever move them."""
        rows = await self.c.fetch(
            f"SELECT {RUN_COLS} FROM runs r WHERE r.status IN (?, ?) "
            "AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.run_id = r.id) "
            "AND NOT EXISTS (SELECT 1 FROM waits w WHERE w.run_id = r.id AND w.kind IN (?, ?)) "
            "ORDER BY r.id LIMIT ?",
            (*_UNFINISHED, *_RESUMING, limit),
        )
        return [run_row(r) for r in rows]
