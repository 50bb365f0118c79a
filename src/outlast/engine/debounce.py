"""``debounce``: a run starts ``period`` after the last event for its key, with that last
event; each new event restarts the wait, and ``timeout`` caps the delay after the first.

The pending debounce is a store row (the last event, when it is due) plus a queue timer
with a fixed dedupe key that every new event moves later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outlast.domain import EventRecord, EventSkip, QueueItem, QueueKind, SkipReason
from outlast.engine.config import FunctionSpec
from outlast.engine.expressions import evaluate_key
from outlast.store import NewItem
from outlast.store.base import Session
from outlast.store.flow import PendingDebounce

if TYPE_CHECKING:
    from outlast.engine.machine import Machine


def timer_key(key: str) -> str:
    return f"debounce:{key}"


async def add(s: Session, spec: FunctionSpec, rec: EventRecord, now: int) -> str | None:
    """Hold the event as its key's pending one, moving the debounce's end. Returns the
    internal id of the event it replaces (which will start no run), if any."""
    d = spec.flow.debounce
    assert d is not None
    key = f"{spec.id}:{evaluate_key(d.key, rec.payload) if d.key else ''}"
    pending = await s.lock_debounce(key)
    first = pending.first_at if pending is not None else now
    due = now + d.period_ms
    if d.timeout_ms is not None:
        due = min(due, first + d.timeout_ms)
    await s.put_debounce(PendingDebounce(key, spec.id, rec.internal_id, rec.payload, first, due))
    if pending is None:
        await s.enqueue(
            [
                NewItem(
                    QueueKind.DEBOUNCE, None, due, payload={"key": key}, dedupe_key=timer_key(key)
                )
            ]
        )
        return None
    await s.move_item(timer_key(key), due)
    return pending.event_id


async def fire(machine: Machine, s: Session, item: QueueItem, now: int) -> None:
    """A debounce's timer is due: start its run with the last event."""
    key = str((item.payload or {}).get("key"))
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
    spec = machine.registry.get(pending.function_id)
    if spec is None or machine.registry.is_paused(spec.id):
        # The events stay stored (and replayable).
        reason = SkipReason.FUNCTION_REMOVED if spec is None else SkipReason.PAUSED
        await s.insert_event_skips([EventSkip(pending.event_id, pending.function_id, reason, now)])
        return
    run = machine.new_run(spec, [pending.event], pending.event_id, now)
    await machine.start_runs(s, [run], now)
