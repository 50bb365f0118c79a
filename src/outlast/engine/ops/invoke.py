"""``InvokeFunction`` (``step.invoke``): start a run of another function and wait for it.
The child's end resolves the step (``Lifecycle.finish``); a timeout, if given, is a timer
that resolves it with an error first."""

from __future__ import annotations

from outlast.domain import EventRecord, QueueKind, StepStatus, Wait, WaitKind
from outlast.engine import errors
from outlast.engine import events as ev
from outlast.engine.lifecycle import resume_key
from outlast.engine.ops.base import Call, Outcome
from outlast.engine.payloads import ResumePayload
from outlast.protocol import durations, ids
from outlast.protocol.op import InvokeOpts, Op, parallel_mode
from outlast.protocol.ops import Opcode
from outlast.store import NewItem


async def handle(call: Call, op: Op) -> Outcome:
    life, s, run, step, now = call.life, call.s, call.run, op.id, call.now
    opts = InvokeOpts.from_wire(op.opts)
    fn_id = opts.function_id
    target = life.registry.get(fn_id)
    if target is None:
        err = errors.standard("InvokeError", f"function {fn_id!r} is not synced")
        await life.fail_step(s, run.id, step, op.label, Opcode.INVOKE.value, err, now)
        return Outcome.WAITS
    correlation = f"{run.id}.{step}"
    event = ev.invoked_event(target.id, correlation, run.id, dict(opts.payload), now)
    rec = EventRecord(ids.ulid_at(now), event["name"], event, now)
    await s.insert_events([rec])
    parent = {"run_id": run.id, "step": step, "correlation_id": correlation}
    child = life.new_run(target, [event], rec.internal_id, now, parent=parent)
    await life.start_runs(s, [child], now)
    await s.upsert_step(
        run.id, step, name=op.label, op=Opcode.INVOKE.value, status=StepStatus.INVOKING, now=now
    )
    try:
        timeout_ms = durations.parse_ms(opts.timeout) if opts.timeout else None
    except durations.DurationError:
        timeout_ms = None
    await s.insert_waits(
        [
            Wait(
                id=0,
                run_id=run.id,
                kind=WaitKind.INVOKE,
                step=step,
                event_name=None,
                expression=None,
                event=None,
                correlation_id=correlation,
                expires_at=now + timeout_ms if timeout_ms else None,
                race=parallel_mode(op.opts) == "race",
            )
        ]
    )
    if timeout_ms:
        memo = {"error": errors.invoke_timeout()}
        await s.enqueue(
            [
                NewItem(
                    QueueKind.RESUME,
                    run.id,
                    now + timeout_ms,
                    step=step,
                    payload=ResumePayload(wait=True, memo=memo).encode(),
                    dedupe_key=resume_key(run.id, step),
                )
            ]
        )
    return Outcome.WAITS
