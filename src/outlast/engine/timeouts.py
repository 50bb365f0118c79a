"""Function timeouts (``timeouts.start`` / ``timeouts.finish``) as durable queue timers.

A run gets a ``start`` timer when it is created and a ``finish`` timer when the app
first answers for it. When a timer fires and the run is still not started (``start``) or
not finished (``finish``), the run is cancelled, which emits ``inngest/function.cancelled``.
A step running at that moment finishes, but its result is discarded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from outlast.domain import QueueItem, QueueKind, RunRecord, RunStatus
from outlast.engine.config import FunctionSpec
from outlast.protocol.durations import format_ms
from outlast.store import NewItem
from outlast.store.base import Session

if TYPE_CHECKING:
    from outlast.engine.machine import Machine

log = logging.getLogger(__name__)


def start_timer(run: RunRecord, spec: FunctionSpec | None, now: int) -> NewItem | None:
    if spec is None or not spec.start_timeout_ms:
        return None
    return _timer(run.id, "start", now + spec.start_timeout_ms, spec.start_timeout_ms)


def finish_timer(run_id: str, spec: FunctionSpec, started_at: int) -> NewItem | None:
    if not spec.finish_timeout_ms:
        return None
    return _timer(run_id, "finish", started_at + spec.finish_timeout_ms, spec.finish_timeout_ms)


def _timer(run_id: str, which: str, due: int, limit_ms: int) -> NewItem:
    return NewItem(
        QueueKind.TIMEOUT,
        run_id,
        due,
        payload={"which": which, "limit_ms": limit_ms},
        dedupe_key=f"timeout-{which}:{run_id}",
    )


async def fire(machine: Machine, s: Session, item: QueueItem, now: int) -> None:
    """A timeout timer is due: cancel the run if it is still not started / not finished."""
    await s.delete_item(item.id)
    assert item.run_id is not None
    run = await s.lock_run(item.run_id)
    if run is None or run.status.finished:
        return
    payload = item.payload or {}
    which = payload.get("which")
    if which == "start" and run.status is not RunStatus.QUEUED:
        return  # it started in time
    limit = format_ms(int(payload.get("limit_ms", 0)))
    what = "start" if which == "start" else "finish"
    log.info("run timed out", extra={"run_id": run.id, "timeout": what})
    await machine.cancel(s, run.id, now, reason=f"the run did not {what} within {limit}")
