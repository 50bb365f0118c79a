"""Cron ticks: each tick of a function's schedule is a queue item (deduplicated across
processes and syncs) that starts a run with a cron event and plans the next tick."""

from __future__ import annotations

from typing import TYPE_CHECKING

from outlast.domain import EventRecord, QueueItem, QueueKind
from outlast.engine import events as ev
from outlast.protocol import ids
from outlast.store import NewItem, Session

if TYPE_CHECKING:
    from outlast.engine.machine import Machine


def cron_item(function_id: str, cron: str, tick: int) -> NewItem:
    """The queue item for one cron tick (deduplicated across processes and syncs)."""
    return NewItem(
        QueueKind.CRON,
        None,
        tick,
        payload={"function_id": function_id, "cron": cron, "tick": tick},
        dedupe_key=f"cron:{function_id}:{cron}:{tick}",
    )


async def fire(machine: Machine, s: Session, item: QueueItem, now: int) -> None:
    """A tick is due: start its run (unless the function is paused), plan the next one."""
    from outlast.engine.machine import DEDUPE_MS

    await s.delete_item(item.id)
    payload = item.payload or {}
    spec = machine.registry.get(str(payload.get("function_id")))
    cron = str(payload.get("cron"))
    tick = int(payload.get("tick", 0))
    trig = next((c for c in spec.crons if c.source == cron), None) if spec else None
    if spec is None or trig is None:
        return  # the function or this schedule was removed since the tick was planned
    if not machine.registry.is_paused(spec.id):
        event = ev.cron_event(cron, tick)
        rec = EventRecord(ids.ulid_at(tick), event["name"], event, now)
        await s.insert_events([rec])
        run = machine.new_run(
            spec, [event], rec.internal_id, now, (f"cron:{tick}", now + DEDUPE_MS)
        )
        await machine.start_runs(s, [run], now)
    await s.enqueue([cron_item(spec.id, cron, trig.schedule.next_after(tick))])
