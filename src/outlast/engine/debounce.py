"""``debounce``: a run starts ``period`` after the last event for its key, with that last
event; each new event restarts the wait, and ``timeout`` caps the delay after the first.

The pending debounce is a store row (the last event, when it is due) plus a queue timer
with a fixed dedupe key that every new event moves later; when it fires
(``engine.timers.debounce``) the run starts.
"""

from __future__ import annotations

from outlast.domain import EventRecord, QueueKind
from outlast.engine.config import FunctionSpec
from outlast.engine.expressions import evaluate_key
from outlast.engine.payloads import DebouncePayload
from outlast.store import NewItem, Session
from outlast.store.flow import PendingDebounce


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
                    QueueKind.DEBOUNCE,
                    None,
                    due,
                    payload=DebouncePayload(key).encode(),
                    dedupe_key=timer_key(key),
                )
            ]
        )
        return None
    await s.move_item(timer_key(key), due)
    return pending.event_id
