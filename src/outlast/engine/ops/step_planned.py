"""``StepPlanned``: a step to run in a call of its own (parallel steps, or a step the app
did not run at once); it is queued, once."""

from __future__ import annotations

from outlast.domain import QueueKind, StepStatus
from outlast.engine.lifecycle import step_key
from outlast.engine.ops.base import Call, Outcome
from outlast.engine.payloads import StepPayload
from outlast.protocol.op import Op, parallel_mode
from outlast.store import NewItem


async def handle(call: Call, op: Op) -> Outcome:
    run, s = call.run, call.s
    if op.id in run.stack:
        # A discovery call that raced a parallel step's result (race mode) plans a step
        # that has finished since: running it again would break "a finished step never
        # runs twice", and the SDK would skip the others.
        return Outcome.NOTHING
    await s.upsert_step(
        run.id, op.id, name=op.label, op=op.op, status=StepStatus.PLANNED, now=call.now
    )
    race = parallel_mode(op.opts) == "race"
    await s.enqueue(
        [
            NewItem(
                QueueKind.STEP,
                run.id,
                call.now,
                step=op.id,
                payload=StepPayload(race=race).encode(),
                dedupe_key=step_key(run.id, op.id),
            )
        ]
    )
    return Outcome.WAITS
