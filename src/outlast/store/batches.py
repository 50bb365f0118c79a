"""Open event batches (batchEvents): events collected for one function and batch key
until the batch is full or its timeout fires."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outlast.protocol.jsonutil import loads
from outlast.store.rows import Queries


@dataclass(frozen=True, slots=True)
class OpenBatch:
    id: str
    #: Events in the batch, and their total size in bytes, counting the one just added.
    size: int
    bytes: int
    created_at: int


class BatchQueries(Queries):
    async def add_to_batch(
        self,
        function_id: str,
        key: str,
        event_id: str,
        event_bytes: int,
        *,
        new_id: str,
        now: int,
    ) -> OpenBatch:
        """Add an event to the open batch of (function, key), opening one (``new_id``) if
        there is none. The upsert takes the batch's row lock, so concurrent adds from
        several processes count one after the other."""
        r = await self.c.fetchone(
            "INSERT INTO batches (id, function_id, batch_key, size, bytes, created_at) "
            "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (function_id, batch_key) DO UPDATE SET "
            "size = batches.size + 1, bytes = batches.bytes + excluded.bytes "
            "RETURNING id, size, bytes, created_at",
            (new_id, function_id, key, event_bytes, now),
        )
        assert r is not None
        batch = OpenBatch(id=r[0], size=int(r[1]), bytes=int(r[2]), created_at=int(r[3]))
        await self.c.execute(
            "INSERT INTO batch_events (batch_id, seq, event_id) VALUES (?, ?, ?)",
            (batch.id, batch.size, event_id),
        )
        return batch

    async def close_batch(self, batch_id: str) -> str | None:
        """Close a batch; its function id, or None when it was closed already."""
        r = await self.c.fetchone(
            "DELETE FROM batches WHERE id = ? RETURNING function_id", (batch_id,)
        )
        return None if r is None else str(r[0])

    async def batch_events(self, batch_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(internal id, payload) of a batch's events, in the order they came."""
        rows = await self.c.fetch(
            "SELECT e.internal_id, e.payload FROM batch_events b "
            "JOIN events e ON e.internal_id = b.event_id WHERE b.batch_id = ? ORDER BY b.seq",
            (batch_id,),
        )
        return [(r[0], loads(r[1])) for r in rows]
