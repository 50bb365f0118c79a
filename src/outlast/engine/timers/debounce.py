"""A debounce's timer is due: its run starts with the last event (``engine.debounce``
holds the events until then)."""

from __future__ import annotations

from outlast.domain import EventSkip, QueueItem, SkipReason
from outlast.engine.lifecycle import Lifecycle
from outlast.engine.payloads import DebouncePayload
from outlast.store import Session


async def fire(life: Lifecycle, s: Session, item: QueueItem, now: int) -> None:
    key = DebouncePayload.decode(item).key
    pending = await s.lock_debounce(key)
    if pending is not None and pending.due_at > now:
        # A newer event moved the end after this timer was leased.
        await s.retry_item(item.id, pending.due_at, item.attempt)
        s.queued(pending.due_at)
        return
    await s.delete_item(item.id)
    if pending is None:
        return
    await s.take_debounce(key)
    spec = life.registry.get(pending.function_id)
    if spec is None or life.registry.is_paused(spec.id):
        # The events stay stored (and replayable).
        reason = SkipReason.FUNCTION_REMOVED if spec is None else SkipReason.PAUSED
        await s.insert_event_skips([EventSkip(pending.event_id, pending.function_id, reason, now)])
        return
    run = life.new_run(spec, [pending.event], pending.event_id, now)
    await life.start_runs(s, [run], now)
