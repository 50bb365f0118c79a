"""The two hot batch writes, in Python: a call's answer with one finished step
(``Store.steps_done``) and checkpointed steps (``Store.save_checkpoints``).

They run the same session queries as the engine's general path (``Machine.apply`` and
``engine.checkpoint``), fewer of them and for a whole batch in one transaction. PostgreSQL
replaces them with one function call per batch (``store.pg_functions``), built from the
same SQL.
"""

from __future__ import annotations

import orjson

from outlast.domain import QueueItem, RunStatus, StepStatus
from outlast.protocol.jsonutil import loads
from outlast.store.rows import CheckpointStep, StepDone
from outlast.store.session import Session


async def step_done(s: Session, d: StepDone) -> tuple[QueueItem, int] | None:
    """Save one answer's finished step and reuse its item for the next discovery call;
    None (nothing written) when the run is not running."""
    r = await s.c.fetchone(
        f"SELECT status, stack FROM runs WHERE id = ?{s.dialect.for_update}", (d.run_id,)
    )
    if r is None or r[0] != RunStatus.RUNNING.value:
        return None
    saved = await s.complete_step(
        d.run_id,
        d.step,
        name=d.name,
        op=d.op,
        memo=orjson.Fragment(d.memo),  # already encoded
        status=StepStatus.COMPLETED,
        now=d.now,
        started_at=d.started_at,
        attempts=d.attempts,
    )
    item = await s.reuse_item(d.item_id, d.due_at, d.owner)
    if item is None:
        return None
    return item, len(loads(r[1])) + (1 if saved else 0)


async def save_checkpoint(s: Session, c: CheckpointStep) -> str:
    """Save one checkpointed step if its call is still the run's current one; the outcome
    as ``Store.save_checkpoints`` describes it."""
    run = await s.lock_run(c.run_id)
    if run is None:
        return "no_run"
    if run.status is not RunStatus.RUNNING:
        return f"not_running:{run.status.value}"
    item = await s.get_item(c.item_id)
    if item is None or item.run_id != c.run_id or item.attempt != c.attempt:
        return "stale_call"
    await s.complete_step(
        c.run_id,
        c.step,
        name=c.name,
        op=c.op,
        memo=orjson.Fragment(c.memo),  # already encoded
        status=StepStatus.COMPLETED,
        now=c.now,
        started_at=c.started_at,
        attempts=c.attempt + 1,
    )
    return "saved"
