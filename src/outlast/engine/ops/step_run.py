"""``StepRun`` (and its legacy spelling ``Step``): a step ran in the app; save its output."""

from __future__ import annotations

from outlast.engine import checkpoint
from outlast.engine.ops.base import Call, Outcome
from outlast.protocol.op import Op


async def handle(call: Call, op: Op) -> Outcome:
    saved = await checkpoint.save_output(
        call.s,
        call.run.id,
        op,
        started_at=call.started_at,
        attempts=call.item.attempt + 1,
        now=call.now,
    )
    return Outcome.PROGRESSED if saved else Outcome.NOTHING
