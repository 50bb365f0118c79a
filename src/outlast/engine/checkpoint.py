"""Step outputs, and the JS SDK's checkpointing (v4): within one call, the SDK runs several
``step.run`` steps in a row and saves each through ``POST /v1/checkpoint/{run}/async``
before going on, instead of answering after every step. The server identifies the call by
``ctx.qi_id`` (the queue item and its attempt): a checkpoint from a call that is no longer
the run's current one — the run ended, or the call timed out and was retried — is stale
(HTTP 409), and the SDK stops.
"""

from __future__ import annotations

from typing import Any

from outlast.domain import RunStatus, StepStatus
from outlast.protocol import jsonutil
from outlast.protocol.ops import MAX_STEP_OUTPUT_BYTES, Opcode
from outlast.store import Session

#: Ops a checkpoint may carry: steps that ran in the SDK, with their output.
CHECKPOINT_OPS = (Opcode.STEP_RUN.value, Opcode.STEP.value)


class CheckpointRefused(Exception):
    """A checkpoint the server does not take; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def call_id(item_id: int, attempt: int) -> str:
    """The ``qi_id`` sent to the SDK: one queue item's one attempt."""
    return f"{item_id}:{attempt}"


async def save_output(
    s: Session,
    run_id: str,
    op: dict[str, Any],
    *,
    started_at: int | None,
    attempts: int,
    now: int,
) -> None:
    """Save a step's output (a ``StepRun`` op). An output over the limit fails the step
    instead: retrying would fail the same way."""
    data = op.get("data")
    size = len(jsonutil.dumps(data))
    too_big: dict[str, Any] | None = None
    if size > MAX_STEP_OUTPUT_BYTES:
        too_big = {
            "name": "OutputTooLarge",
            "message": f"step output is {size} bytes; the limit is {MAX_STEP_OUTPUT_BYTES}",
        }
    await s.complete_step(
        run_id,
        str(op.get("id", "")),
        name=op.get("displayName") or op.get("name"),
        op=str(op.get("op", "")),
        memo={"error": too_big} if too_big else {"data": data},
        status=StepStatus.FAILED if too_big else StepStatus.COMPLETED,
        now=now,
        started_at=started_at,
        attempts=attempts,
        error=too_big,
    )


def _ops(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise CheckpointRefused("checkpoint body must be a JSON object", 400)
    steps = body.get("steps")
    if not isinstance(steps, list) or not all(isinstance(op, dict) for op in steps):
        raise CheckpointRefused("checkpoint 'steps' must be a list of ops", 400)
    for op in steps:
        if op.get("op") not in CHECKPOINT_OPS or not op.get("id"):
            # Refused whole, before anything is saved: the SDK then answers with these
            # ops in its response, which the executor carries out as usual.
            raise CheckpointRefused(
                f"op {str(op.get('op'))[:40]!r} cannot be checkpointed; "
                "send it in the call's answer",
                400,
            )
    return steps


async def apply(s: Session, run_id: str, body: Any, now: int) -> int:
    """Save the steps of a checkpoint; the number saved. Raises :class:`CheckpointRefused`."""
    ops = _ops(body)
    run = await s.lock_run(run_id)
    if run is None:
        raise CheckpointRefused("run not found", 404)
    if run.status.finished or run.status is RunStatus.QUEUED:
        raise CheckpointRefused(f"run is {run.status.api_name.lower()}: stale dispatch", 409)
    qi_id = str(body.get("qi_id") or "")
    item_id, _, attempt = qi_id.partition(":")
    item = await s.get_item(int(item_id)) if item_id.isdigit() else None
    if item is None or item.run_id != run_id or str(item.attempt) != attempt:
        raise CheckpointRefused(f"call {qi_id[:40]!r} is not the run's current one", 409)
    for op in ops:
        await save_output(s, run_id, op, started_at=None, attempts=item.attempt + 1, now=now)
    return len(ops)
