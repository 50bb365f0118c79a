"""Ops that pause a run: ``Sleep`` and ``WaitForEvent``.

Nothing that sleeps or waits is held in memory: each pause is a step row, a wait row
(for events) and a timer in the durable queue that resumes the run when it is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from outlast.domain import QueueKind, RunRecord, StepStatus, Wait, WaitKind
from outlast.engine import events
from outlast.engine.expressions import ExpressionError, compile_expression, match_to_expression
from outlast.protocol import durations
from outlast.protocol.ops import Opcode
from outlast.store import NewItem, Session


def resume_key(run_id: str, step: str) -> str:
    """The dedupe key of a step's resume timer: at most one per step."""
    return f"resume:{run_id}:{step}"


async def sleep(
    s: Session, run: RunRecord, step: str, name: Any, op: dict[str, Any], now: int
) -> dict[str, Any] | None:
    """A ``Sleep`` op: mark the step sleeping and set a timer to resume the run."""
    run_id = run.id
    opts = op.get("opts") or {}
    target = opts.get("duration") or op.get("name") or ""
    wake = _wake_time(str(target), now)
    if wake is None:
        return {"name": "InvalidSleep", "message": f"cannot sleep for {target!r}"}
    await s.upsert_step(
        run_id, step, name=name, op=Opcode.SLEEP.value, status=StepStatus.SLEEPING, now=now
    )
    await s.enqueue(
        [NewItem(QueueKind.RESUME, run_id, wake, step=step, dedupe_key=resume_key(run_id, step))]
    )
    return None


async def wait_for_event(
    s: Session, run: RunRecord, step: str, name: Any, op: dict[str, Any], now: int
) -> dict[str, Any] | None:
    """A ``WaitForEvent`` op: register the wait and a timer that resumes the run with null.

    See :func:`missed_event` for events that came while the app was deciding to wait.
    """
    opts = op.get("opts") or {}
    event_name = str(opts.get("event") or op.get("name") or "")
    expression = opts.get("if")
    if opts.get("match"):
        matched = match_to_expression(str(opts["match"]))
        expression = f"({expression}) && ({matched})" if expression else matched
    try:
        timeout_ms = durations.parse_ms(opts.get("timeout") or "0")
        if expression:
            compile_expression(str(expression))
    except (durations.DurationError, ExpressionError) as exc:
        return {"name": "InvalidWait", "message": str(exc)}
    expires = now + timeout_ms
    await s.upsert_step(
        run.id,
        step,
        name=name,
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
        expression=str(expression) if expression else None,
        event=run.events[0] if run.events else None,
        correlation_id=None,
        expires_at=expires,
    )
    await s.insert_waits([wait])
    await s.enqueue(
        [
            NewItem(
                QueueKind.RESUME,
                run.id,
                expires,
                step=step,
                payload={"wait": True, "memo": None},
                dedupe_key=resume_key(run.id, step),
            )
        ]
    )
    return None


#: How many events of the awaited name ``missed_event`` looks at, at most.
CATCH_UP_LIMIT = 1000


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


def _wake_time(target: str, now: int) -> int | None:
    try:
        return now + durations.parse_ms(target)
    except durations.DurationError:
        pass
    try:
        dt = datetime.fromisoformat(target.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return int(dt.timestamp() * 1000)
