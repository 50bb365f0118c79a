"""Events as received: written once by the event API, read by the matcher, waits and the
dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from outlast.domain import EventRecord
from outlast.protocol.jsonutil import dumps_str
from outlast.store.rows import Queries, event_row

#: Events per INSERT statement (4 parameters each: under SQLite's and PostgreSQL's limits).
EVENT_INSERT_CHUNK = 250


class EventQueries(Queries):
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
