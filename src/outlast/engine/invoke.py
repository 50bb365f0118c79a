"""The ``InvokeFunction`` op (``step.invoke``): start a run of another function and wait
for it. The child's end resolves the step (``Machine.finish``); a timeout, if given, is a
timer that resolves it with an error first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outlast.domain import EventRecord, QueueKind, RunRecord, StepStatus, Wait, WaitKind
from outlast.engine import events as ev
from outlast.engine import pauses
from outlast.protocol import durations, ids
from outlast.protocol.ops import Opcode
from outlast.store import NewItem, Session

if TYPE_CHECKING:
    from outlast.engine.machine import Machine


async def invoke(
    machine: Machine,
    s: Session,
    run: RunRecord,
    step: str,
    name: Any,
    opts: dict[str, Any],
    now: int,
) -> None:
    fn_id = str(opts.get("function_id") or "")
    target = machine.registry.get(fn_id)
    if target is None:
        err = {"name": "InvokeError", "message": f"function {fn_id!r} is not synced"}
        await machine.fail_step(s, run.id, step, name, Opcode.INVOKE.value, err, now)
        return
    correlation = f"{run.id}.{step}"
    payload = opts.get("payload") or {}
    event = ev.invoked_event(target.id, correlation, run.id, payload, now)
    rec = EventRecord(ids.ulid_at(now), event["name"], event, now)
    await s.insert_events([rec])
    parent = {"run_id": run.id, "step": step, "correlation_id": correlation}
    await machine.start_runs(
        s, [machine.new_run(target, [event], rec.internal_id, now, parent=parent)], now
    )
    await s.upsert_step(
        run.id, step, name=name, op=Opcode.INVOKE.value, status=StepStatus.INVOKING, now=now
    )
    timeout = opts.get("timeout")
    try:
        timeout_ms = durations.parse_ms(timeout) if timeout else None
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
            )
        ]
    )
    if timeout_ms:
        memo = {
            "error": {
                "name": "InngestInvokeTimeoutError",
                "message": "Timed out waiting for invoked function to complete",
            }
        }
        await s.enqueue(
            [
                NewItem(
                    QueueKind.RESUME,
                    run.id,
                    now + timeout_ms,
                    step=step,
                    payload={"wait": True, "memo": memo},
                    dedupe_key=pauses.resume_key(run.id, step),
                )
            ]
        )
