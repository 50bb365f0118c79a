"""A step's timer fired: a sleep ended (the step completes), or a wait or an invoke timed
out (the step resolves with the memo its payload holds)."""

from __future__ import annotations

from outlast.domain import QueueItem, StepStatus
from outlast.engine.lifecycle import Lifecycle
from outlast.engine.payloads import ResumePayload
from outlast.protocol.ops import Opcode
from outlast.store import Session


async def fire(life: Lifecycle, s: Session, item: QueueItem, now: int) -> None:
    await s.delete_item(item.id)
    payload = ResumePayload.decode(item)
    assert item.run_id is not None and item.step is not None
    if payload.wait:
        await life.resolve_wait(s, item.run_id, item.step, payload.memo, now)
        return
    run = await s.lock_run(item.run_id)
    if run is None or run.status.finished:
        return
    await s.complete_step(
        item.run_id,
        item.step,
        name=None,
        op=Opcode.SLEEP.value,
        memo=None,
        status=StepStatus.COMPLETED,
        now=now,
        started_at=None,
        attempts=1,
    )
    await life.step_resolved(s, item.run_id, now, race=payload.race)
