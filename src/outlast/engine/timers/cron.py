"""Cron ticks: each tick of a function's schedule is a queue item (deduplicated across
processes and syncs) that starts a run with a cron event and plans the next tick."""

from __future__ import annotations

from outlast.domain import EventRecord, QueueItem, QueueKind
from outlast.engine import events as ev
from outlast.engine.lifecycle import DEDUPE_MS, Lifecycle
from outlast.engine.payloads import CronPayload
from outlast.protocol import ids
from outlast.store import NewItem, Session


def cron_item(function_id: str, cron: str, tick: int) -> NewItem:
    """The queue item for one cron tick (deduplicated across processes and syncs)."""
    return NewItem(
        QueueKind.CRON,
        None,
        tick,
        payload=CronPayload(function_id, cron, tick).encode(),
        dedupe_key=f"cron:{function_id}:{cron}:{tick}",
    )


async def fire(life: Lifecycle, s: Session, item: QueueItem, now: int) -> None:
    """A tick is due: start its run (unless the function is paused), plan the next one."""
    await s.delete_item(item.id)
    payload = CronPayload.decode(item)
    spec = life.registry.get(payload.function_id)
    trig = next((c for c in spec.crons if c.source == payload.cron), None) if spec else None
    if spec is None or trig is None:
        return  # the function or this schedule was removed since the tick was planned
    tick = payload.tick
    if not life.registry.is_paused(spec.id):
        event = ev.cron_event(payload.cron, tick)
        rec = EventRecord(ids.ulid_at(tick), event["name"], event, now)
        await s.insert_events([rec])
        run = life.new_run(spec, [event], rec.internal_id, now, (f"cron:{tick}", now + DEDUPE_MS))
        await life.start_runs(s, [run], now)
    await s.enqueue([cron_item(spec.id, payload.cron, trig.schedule.next_after(tick))])
