"""Which server processes are alive: each one's row, refreshed every second while it runs.
A process killed without a word (``kill -9``, a lost machine) stops refreshing it; the
others then free the queue items it held, at once rather than when their leases end."""

from __future__ import annotations

from outlast.store.rows import Queries


class WorkerQueries(Queries):
    async def beat(self, owner: str, now: int) -> None:
        """``owner`` is alive at ``now``."""
        await self.c.execute(
            "INSERT INTO workers (owner, seen_at) VALUES (?, ?) "
            "ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
            (owner, now),
        )

    async def take_over(self, now: int, dead_after_ms: int) -> list[str]:
        """Free the queue items of the processes not seen for ``dead_after_ms`` (due now,
        for any worker) and forget those processes. Returns their names."""
        rows = await self.c.fetch(
            "SELECT owner FROM workers WHERE seen_at < ? ORDER BY owner",
            (now - dead_after_ms,),
        )
        dead = [str(r[0]) for r in rows]
        for owner in dead:
            await self.c.execute(
                "UPDATE queue SET lease_owner = NULL, due_at = ? WHERE lease_owner = ?",
                (now, owner),
            )
            await self.c.execute(
                "DELETE FROM workers WHERE owner = ? AND seen_at < ?",
                (owner, now - dead_after_ms),
            )
        return dead

    async def leave(self, owner: str) -> None:
        """``owner`` stops (its leftover items were released): nothing to take over."""
        await self.c.execute("DELETE FROM workers WHERE owner = ?", (owner,))
