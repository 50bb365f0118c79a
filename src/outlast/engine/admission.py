"""Between an event and a run's first call: the flow-control decisions that lock store
rows (``rateLimit``, ``throttle``, ``singleton``) and ``priority``. The rules themselves are
in ``engine.flow``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from outlast.domain import EventRecord, RunRecord
from outlast.engine import flow
from outlast.engine.config import FunctionSpec
from outlast.store.base import Session

if TYPE_CHECKING:
    from outlast.engine.machine import Machine

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


async def first_call_at(s: Session, spec: FunctionSpec | None, run: RunRecord, now: int) -> int:
    """When a new run's first call is due: ``throttle`` may push it later (GCRA, FIFO per
    key); ``priority`` moves it ahead of (or behind) work queued around it."""
    if spec is None:
        return now
    trigger = run.events[0] if run.events else {}
    due = now
    throttle = spec.flow.throttle
    if throttle is not None:
        key = flow.gcra_key("throttle", spec.id, throttle, trigger)
        due, tat = flow.throttle_admit(await s.lock_gcra(key), now, throttle)
        await s.set_gcra(key, tat)
    return due - flow.priority_ms(spec.flow.priority, trigger)


async def singletons(
    machine: Machine, s: Session, created: list[RunRecord], now: int
) -> list[RunRecord]:
    """``singleton``: at most one unfinished run per key. In ``skip`` mode a new run whose
    key is held is dropped; in ``cancel`` mode it replaces the holder, which is cancelled.
    Runs are claimed after they were created, so an event sent twice (its id already
    seen) never cancels the run it started."""
    kept: list[RunRecord] = []
    for run in created:
        spec = machine.registry.get(run.function_id)
        single = spec.flow.singleton if spec is not None else None
        if spec is None or single is None:
            kept.append(run)
            continue
        key = flow.singleton_key(spec.id, single, run.events[0] if run.events else {})
        holder = await s.claim_singleton(key, run.id)
        if holder is not None and single.mode == "skip":
            log.info("singleton run skipped", extra={"fn": spec.id, "holder": holder})
            await s.drop_new_run(run.id)
            continue
        if holder is not None:
            await s.set_singleton(key, run.id)
            await machine.cancel(s, holder, now, reason="singleton: replaced by a newer run")
        kept.append(run)
    return kept
