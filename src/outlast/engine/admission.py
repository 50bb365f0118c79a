"""Between an event and a run's first call: the flow-control decisions that lock store
rows (``rateLimit``, ``throttle``) and ``priority``. The rules themselves are in
``engine.flow``; ``singleton``, which may cancel a run, is part of the lifecycle."""

from __future__ import annotations

import logging

from outlast.domain import EventRecord, RunRecord
from outlast.engine import flow
from outlast.engine.config import FunctionSpec
from outlast.store import Session

log = logging.getLogger(__name__)


async def rate_allows(s: Session, spec: FunctionSpec, rec: EventRecord, now: int) -> bool:
    """``rateLimit``: whether this event may start a run (GCRA; over the limit, the event
    stays stored and starts nothing)."""
    limit = spec.flow.rate_limit
    assert limit is not None
    key = flow.gcra_key("rate", spec.id, limit, rec.payload)
    tat = flow.rate_limit_admit(await s.lock_gcra(key), now, limit)
    if tat is None:
        log.info("event rate-limited", extra={"fn": spec.id, "event_id": rec.internal_id})
        return False
    await s.set_gcra(key, tat)
    return True


def scheduled_start(run: RunRecord, now: int) -> int:
    """When a new run is to start: now, or its event's ``ts`` when that is in the future
    (a delayed start, as Inngest schedules it). A batch starts when it closes."""
    at = run.scheduled_at
    return at if at is not None and at > now else now


async def first_call_at(s: Session, spec: FunctionSpec | None, run: RunRecord, now: int) -> int:
    """When a new run's first call is due: at its scheduled start, which ``throttle`` may
    push later (GCRA, FIFO per key); ``priority`` moves it ahead of (or behind) work queued
    around it."""
    start = scheduled_start(run, now)
    if spec is None:
        return start
    trigger = run.events[0] if run.events else {}
    due = start
    throttle = spec.flow.throttle
    if throttle is not None:
        key = flow.gcra_key("throttle", spec.id, throttle, trigger)
        due, tat = flow.throttle_admit(await s.lock_gcra(key), start, throttle)
        await s.set_gcra(key, tat)
    return due - flow.priority_ms(spec.flow.priority, trigger)
