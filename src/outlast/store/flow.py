"""Flow-control state: GCRA arrival times (throttle, rate limit), singleton holders and
pending debounces. Every read that a decision depends on locks its row, so decisions of
several server processes on one database happen one after the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outlast.protocol.jsonutil import dumps_str, loads
from outlast.store.rows import Queries


@dataclass(frozen=True, slots=True)
class PendingDebounce:
    key: str
    function_id: str
    event_id: str
    event: dict[str, Any]
    first_at: int
    due_at: int


class FlowQueries(Queries):
    # -- GCRA -------------------------------------------------------------------------------

    async def lock_gcra(self, key: str) -> int | None:
        """A key's theoretical arrival time (None: never used), its row locked until the
        transaction ends (the upsert creates and locks it when missing)."""
        r = await self.c.fetchone(
            "INSERT INTO gcra (key, tat) VALUES (?, -1) ON CONFLICT (key) DO UPDATE "
            "SET tat = gcra.tat RETURNING tat",
            (key,),
        )
        tat = int(r[0]) if r is not None else -1
        return None if tat < 0 else tat

    async def set_gcra(self, key: str, tat: int) -> None:
        await self.c.execute("UPDATE gcra SET tat = ? WHERE key = ?", (tat, key))

    # -- singleton --------------------------------------------------------------------------

    async def claim_singleton(self, key: str, run_id: str) -> str | None:
        """Make ``run_id`` the key's holder if it has none; otherwise return the holder."""
        for _ in range(2):
            r = await self.c.fetchone(
                "INSERT INTO singletons (key, run_id) VALUES (?, ?) ON CONFLICT (key) "
                "DO NOTHING RETURNING run_id",
                (key, run_id),
            )
            if r is not None:
                return None
            holder = await self.c.fetchone(
                f"SELECT run_id FROM singletons WHERE key = ?{self.dialect.for_update}", (key,)
            )
            if holder is not None:
                return str(holder[0])
            # The holder finished between the two statements: try again.
        return None

    async def set_singleton(self, key: str, run_id: str) -> None:
        await self.c.execute("UPDATE singletons SET run_id = ? WHERE key = ?", (run_id, key))

    async def release_singleton(self, run_id: str) -> None:
        await self.c.execute("DELETE FROM singletons WHERE run_id = ?", (run_id,))

    async def drop_new_run(self, run_id: str) -> None:
        """Remove a run created in this transaction that must not start after all."""
        await self.c.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # -- debounce ---------------------------------------------------------------------------

    async def lock_debounce(self, key: str) -> PendingDebounce | None:
        r = await self.c.fetchone(
            "SELECT key, function_id, event_id, event, first_at, due_at FROM debounces "
            f"WHERE key = ?{self.dialect.for_update}",
            (key,),
        )
        if r is None:
            return None
        return PendingDebounce(r[0], r[1], r[2], loads(r[3]), int(r[4]), int(r[5]))

    async def put_debounce(self, d: PendingDebounce) -> None:
        """Insert a pending debounce, or replace its event and due time."""
        await self.c.execute(
            "INSERT INTO debounces (key, function_id, event_id, event, first_at, due_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
            "event_id = excluded.event_id, event = excluded.event, due_at = excluded.due_at",
            (d.key, d.function_id, d.event_id, dumps_str(d.event), d.first_at, d.due_at),
        )

    async def take_debounce(self, key: str) -> PendingDebounce | None:
        d = await self.lock_debounce(key)
        if d is not None:
            await self.c.execute("DELETE FROM debounces WHERE key = ?", (key,))
        return d

    async def move_item(self, dedupe_key: str, due_at: int) -> None:
        """Reschedule the (unleased) queue item with this dedupe key."""
        await self.c.execute(
            "UPDATE queue SET due_at = ?, lease_owner = NULL WHERE dedupe_key = ?",
            (due_at, dedupe_key),
        )
        self.queued(due_at)
