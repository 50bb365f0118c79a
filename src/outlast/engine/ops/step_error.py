"""``StepError`` / ``StepFailed``: a step raised. It is retried (after ``Retry-After``, or
the backoff) until its attempts run out or the app says not to (``StepFailed``, the
no-retry header); then it fails and the user code sees the error."""

from __future__ import annotations

from outlast.domain import QueueKind, StepAttempt, StepStatus
from outlast.engine import errors
from outlast.engine.backoff import retry_delay_ms
from outlast.engine.lifecycle import step_key
from outlast.engine.ops.base import Call, Outcome
from outlast.protocol.op import Op
from outlast.protocol.ops import Opcode
from outlast.store import NewItem


async def handle(call: Call, op: Op) -> Outcome:
    item, s = call.item, call.s
    err = dict(op.error or errors.standard("Error", "step failed"))
    last = (
        op.op == Opcode.STEP_FAILED
        or call.result.no_retry
        or item.attempt + 1 >= call.spec.retries + 1
    )
    if last:
        saved = await s.complete_step(
            call.run.id,
            op.id,
            name=op.label,
            op=op.op,
            memo={"error": err},
            status=StepStatus.FAILED,
            now=call.now,
            started_at=call.started_at,
            attempts=item.attempt + 1,
            error=err,
        )
        return Outcome.PROGRESSED if saved else Outcome.NOTHING
    delay = call.result.retry_after_ms or retry_delay_ms(
        item.attempt, call.life.opts.retry_interval_ms
    )
    await _retry(call, op, err, call.now + delay)
    return Outcome.RETRYING


async def _retry(call: Call, op: Op, err: dict[str, object], due: int) -> None:
    item, s, run_id, step = call.item, call.s, call.run.id, op.id
    await s.add_step_attempts(
        [StepAttempt(run_id, step, item.attempt, call.started_at, call.now, err)]
    )
    await s.upsert_step(
        run_id,
        step,
        name=op.label,
        op=Opcode.STEP_ERROR.value,
        status=StepStatus.RUNNING,
        now=call.now,
        attempts=item.attempt + 1,
        error=err,
    )
    if item.kind is QueueKind.STEP and item.step == step:
        await s.retry_item(item.id, due, item.attempt + 1)
        return
    await s.delete_item(item.id)
    await s.enqueue(
        [
            NewItem(
                QueueKind.STEP,
                run_id,
                due,
                step=step,
                attempt=item.attempt + 1,
                dedupe_key=step_key(run_id, step),
            )
        ]
    )
