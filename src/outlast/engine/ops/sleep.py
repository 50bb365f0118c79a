"""``Sleep``: the step sleeps until a time (a duration from now, or an ISO 8601 date).
Nothing is held in memory: the step row says it sleeps and a timer in the durable queue
(``engine.timers.resume``) wakes the run."""

from __future__ import annotations

from datetime import datetime

from outlast.domain import QueueKind, StepStatus
from outlast.engine import errors
from outlast.engine.lifecycle import resume_key
from outlast.engine.ops.base import Call, Outcome
from outlast.engine.payloads import ResumePayload
from outlast.protocol import durations
from outlast.protocol.op import Op, SleepOpts, parallel_mode
from outlast.protocol.ops import Opcode
from outlast.store import NewItem


async def handle(call: Call, op: Op) -> Outcome:
    s, run_id, step = call.s, call.run.id, op.id
    target = SleepOpts.from_wire(op.opts).duration or op.name or ""
    wake = _wake_time(str(target), call.now)
    if wake is None:
        err = errors.standard("InvalidSleep", f"cannot sleep for {target!r}")
        await call.life.fail_step(s, run_id, step, op.label, op.op, err, call.now)
        return Outcome.WAITS
    if wake - call.now > errors.MAX_TIMEOUT_MS:
        await call.life.fail_step(
            s, run_id, step, op.label, op.op, errors.sleep_too_long(str(target)), call.now
        )
        return Outcome.WAITS
    await s.upsert_step(
        run_id, step, name=op.label, op=Opcode.SLEEP.value, status=StepStatus.SLEEPING, now=call.now
    )
    race = parallel_mode(op.opts) == "race"
    await s.enqueue(
        [
            NewItem(
                QueueKind.RESUME,
                run_id,
                wake,
                step=step,
                payload=ResumePayload(race=race).encode(),
                dedupe_key=resume_key(run_id, step),
            )
        ]
    )
    return Outcome.WAITS


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
