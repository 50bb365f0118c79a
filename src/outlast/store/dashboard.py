"""What the dashboard shows beyond runs, steps and events: why events started no run, and
run counts per function (migration 0007; failed step attempts are with the steps, in
``runs``)."""

from __future__ import annotations

from collections.abc import Sequence

from outlast.domain import EventSkip, FunctionStats, RunStatus, SkipReason
from outlast.store.rows import Queries

#: Rows per multi-row INSERT (4 parameters each) and values per ``IN (...)`` list:
#: far under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 250


class DashboardQueries(Queries):
    # -- events that started no run ---------------------------------------------------------

    async def insert_event_skips(self, skips: Sequence[EventSkip]) -> None:
        """Record why events started no run; nothing at all (no statement) for none. A later
        reason for the same event and function replaces the earlier one."""
        if not skips:
            return
        # One row per (event, function) in a statement: PostgreSQL refuses an upsert that
        # touches a row twice. The last reason wins, as it would one statement at a time.
        unique = list({(k.event_id, k.function_id): k for k in skips}.values())
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            rows = ", ".join("(?, ?, ?, ?)" for _ in chunk)
            args = [
                value for k in chunk for value in (k.event_id, k.function_id, k.reason.value, k.at)
            ]
            await self.c.execute(
                f"INSERT INTO event_skips (event_id, function_id, reason, at) VALUES {rows} "
                "ON CONFLICT (event_id, function_id) DO UPDATE SET reason = excluded.reason, "
                "at = excluded.at",
                args,
            )

    async def delete_event_skips(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Forget why (event, function) pairs started no run: they have one now (a replay)."""
        if pairs:
            await self.c.executemany(
                "DELETE FROM event_skips WHERE event_id = ? AND function_id = ?", pairs
            )

    async def list_event_skips(self, event_ids: Sequence[str]) -> list[EventSkip]:
        """Why each of these events (internal ids) started no run of a function, by event
        then function."""
        found: list[EventSkip] = []
        ids = list(dict.fromkeys(_ids(event_ids, "event_ids")))
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.c.fetch(
                "SELECT event_id, function_id, reason, at FROM event_skips "
                f"WHERE event_id IN ({marks}) ORDER BY event_id, function_id",
                chunk,
            )
            found += [EventSkip(r[0], r[1], SkipReason(r[2]), int(r[3])) for r in rows]
        return sorted(found, key=lambda k: (k.event_id, k.function_id))

    # -- run counts -------------------------------------------------------------------------

    async def function_stats(
        self, function_ids: Sequence[str], since: int
    ) -> dict[str, FunctionStats]:
        """Runs of each function queued at or after ``since`` (ms), by outcome; a function
        with none has all zeros. Counted from the (function_id, queued_at, status) index
        alone, in its order (grouped by function only: no sort of the rows counted)."""
        found = {fid: FunctionStats(0, 0, 0, 0, 0) for fid in _ids(function_ids, "function_ids")}
        ids = list(found)
        ended = (RunStatus.COMPLETED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.c.fetch(
                "SELECT function_id, COUNT(*), "
                "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) FROM runs "
                f"WHERE function_id IN ({marks}) AND queued_at >= ? GROUP BY function_id",
                (*ended, *chunk, since),
            )
            for fid, total, completed, failed, cancelled in rows:
                found[fid] = FunctionStats(
                    total=int(total),
                    completed=int(completed),
                    failed=int(failed),
                    cancelled=int(cancelled),
                    # Queued and running: the REST API shows both as Running.
                    running=int(total) - int(completed) - int(failed) - int(cancelled),
                )
        return found


def _ids(values: Sequence[str], what: str) -> Sequence[str]:
    # A lone string is a Sequence[str] too: it would be looked up one character at a time.
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of ids, not one string")
    return values
