"""``AIGateway`` (``step.ai.infer``): the server sends the model request the SDK built,
off the app (which is not held meanwhile), as a queue item of its own; the provider's
answer becomes the step's output (``Machine.gateway_answered``)."""

from __future__ import annotations

from outlast.domain import QueueKind, StepStatus
from outlast.engine import errors, gateway
from outlast.engine.lifecycle import step_key
from outlast.engine.ops.base import Call, Outcome
from outlast.protocol.op import Op
from outlast.protocol.ops import Opcode
from outlast.store import NewItem


async def handle(call: Call, op: Op) -> Outcome:
    s, run, now = call.s, call.run, call.now
    if op.id in run.stack:
        return Outcome.NOTHING  # answered already: a call that raced the answer
    try:
        request = gateway.ai_request(op.opts)
    except gateway.GatewayError as exc:
        err = errors.standard("AIGatewayError", str(exc))
        await call.life.fail_step(s, run.id, op.id, op.label, Opcode.AI_GATEWAY.value, err, now)
        return Outcome.WAITS
    await s.upsert_step(
        run.id, op.id, name=op.label, op=Opcode.AI_GATEWAY.value, status=StepStatus.RUNNING, now=now
    )
    await s.enqueue(
        [
            NewItem(
                QueueKind.GATEWAY,
                run.id,
                now,
                step=op.id,
                payload=request.encode(),
                dedupe_key=step_key(run.id, op.id),
            )
        ]
    )
    return Outcome.WAITS
