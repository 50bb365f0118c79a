"""``WaitForEvent``: the step waits for an event (by name, with an optional ``if`` or
``match``), or resumes with null at its timeout. The wait is a store row, the timeout a
timer in the durable queue (``engine.timers.resume``)."""

from __future__ import annotations

from typing import Any

from outlast.domain import QueueKind, RunRecord, StepStatus, Wait, WaitKind
from outlast.engine import errors, events
from outlast.engine.expressions import ExpressionError, compile_expression, match_to_expression
from outlast.engine.lifecycle import resume_key
from outlast.engine.ops.base import Call, Outcome
from outlast.engine.payloads import ResumePayload
from outlast.protocol import durations
from outlast.protocol.op import Op, WaitOpts, parallel_mode
from outlast.protocol.ops import Opcode
from outlast.store import NewItem, Session

#: How many events of the awaited name ``missed_event`` looks at, at most.
CATCH_UP_LIMIT = 1000


async def handle(call: Call, op: Op) -> Outcome:
    s, run, step, now = call.s, call.run, op.id, call.now
    opts = WaitOpts.from_wire(op.opts)
    event_name = opts.event or op.name or ""
    expression = opts.if_exp
    if opts.match:
        matched = match_to_expression(opts.match)
        expression = f"({expression}) && ({matched})" if expression else matched
    try:
        timeout_ms = durations.parse_ms(opts.timeout or "0")
        if expression:
            compile_expression(expression)
    except (durations.DurationError, ExpressionError) as exc:
        err = errors.standard("InvalidWait", str(exc))
        await call.life.fail_step(s, run.id, step, op.label, op.op, err, now)
        return Outcome.WAITS
    if timeout_ms > errors.MAX_TIMEOUT_MS:
        err = errors.wait_too_long(str(opts.timeout))
        await call.life.fail_step(s, run.id, step, op.label, op.op, err, now)
        return Outcome.WAITS
    expires = now + timeout_ms
    await s.upsert_step(
        run.id,
        step,
        name=op.label,
        op=Opcode.WAIT_FOR_EVENT.value,
        status=StepStatus.WAITING,
        now=now,
    )
    wait = Wait(
        id=0,
        run_id=run.id,
        kind=WaitKind.WAIT,
        step=step,
        event_name=event_name,
        expression=expression or None,
        event=run.events[0] if run.events else None,
        correlation_id=None,
        expires_at=expires,
        race=parallel_mode(op.opts) == "race",
    )
    await s.insert_waits([wait])
    await s.enqueue(
        [
            NewItem(
                QueueKind.RESUME,
                run.id,
                expires,
                step=step,
                payload=ResumePayload(wait=True, memo=None).encode(),
                dedupe_key=resume_key(run.id, step),
            )
        ]
    )
    early = await missed_event(s, run, step)
    if early is not None:
        await call.life.resolve_wait(s, run.id, step, early, now)
    return Outcome.WAITS


async def missed_event(s: Session, run: RunRecord, step: str) -> dict[str, Any] | None:
    """The first event matching the step's new wait that came after the step before it.

    The app answers with a wait some time after the previous step finished (or, for a
    first step, after the run was triggered). An event ingested in between found no wait
    to resolve; taking it here makes the wait's registration as good as atomic with the
    step before it. (Inngest misses such events: a known complaint of its users.)
    """
    wait = await s.wait_of_step(run.id, step)
    if wait is None or wait.event_name is None:
        return None
    last_end = await s.last_step_end(run.id)
    # Before the first step, "after the trigger" also orders events of one request (their
    # ids increase in the order sent): an event sent after the trigger in the same batch counts.
    after = (last_end if last_end is not None else run.queued_at, "")
    if last_end is None and run.event_id is not None:
        trigger = await s.get_event(run.event_id)
        if trigger is not None:
            after = (trigger.received_at, trigger.internal_id)
    own = {e.get("id") for e in run.events} | {run.event_id}
    for rec in await s.events_named_since(wait.event_name, after[0], CATCH_UP_LIMIT):
        if rec.internal_id in own or rec.payload.get("id") in own:
            continue  # a run never waits for the event that started it
        if (rec.received_at, rec.internal_id) < after:
            continue
        if events.wait_matches(wait, rec.payload):
            return rec.payload
    return None
