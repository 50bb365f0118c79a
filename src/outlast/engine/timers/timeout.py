"""A function timeout's timer is due (``engine.timeouts`` sets them): the run is cancelled
if it has still not started (``start``) or not finished (``finish``)."""

from __future__ import annotations

import logging

from outlast.domain import QueueItem, RunStatus
from outlast.engine.lifecycle import Lifecycle
from outlast.engine.payloads import TimeoutPayload
from outlast.protocol.durations import format_ms
from outlast.store import Session

log = logging.getLogger(__name__)


async def fire(life: Lifecycle, s: Session, item: QueueItem, now: int) -> None:
    await s.delete_item(item.id)
    assert item.run_id is not None
    run = await s.lock_run(item.run_id)
    if run is None or run.status.finished:
        return
    payload = TimeoutPayload.decode(item)
    if payload.which == "start" and run.status is not RunStatus.QUEUED:
        return  # it started in time
    limit = format_ms(payload.limit_ms)
    log.info("run timed out", extra={"run_id": run.id, "timeout": payload.which})
    await life.cancel(s, run.id, now, reason=f"the run did not {payload.which} within {limit}")
