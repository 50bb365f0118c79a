"""Step outputs, and checkpointing (the JS SDK v4 and Outlast's SDK): within one call, the
SDK runs several ``step.run`` steps in a row and saves each through
``POST /v1/checkpoint/{run}/async`` before going on, instead of answering after every step.
The server identifies the call by ``ctx.qi_id`` (the queue item and its attempt): a
checkpoint from a call that is no longer the run's current one — the run ended, or the call
timed out and was retried — is stale (HTTP 409), and the SDK stops. Checkpoints that arrive
together are saved in one transaction (``apply_batch``, through the engine's group commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outlast.domain import RunStatus, StepStatus
from outlast.engine import errors
from outlast.engine.caller import MAX_CALL_TIMEOUT_S
from outlast.protocol import jsonutil
from outlast.protocol.op import Op, parse_ops
from outlast.protocol.ops import MAX_STEP_OUTPUT_BYTES, Opcode
from outlast.store import Session, Store
from outlast.store.rows import CheckpointStep

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
    op: Op,
    *,
    started_at: int | None,
    attempts: int,
    now: int,
) -> bool:
    """Save a step's output (a ``StepRun`` op); False when the step had finished already.
    An output over the limit fails the step instead: retrying would fail the same way."""
    data = op.output
    size = len(jsonutil.dumps(data))
    too_big: dict[str, Any] | None = None
    if size > MAX_STEP_OUTPUT_BYTES:
        too_big = errors.output_too_large(
            f"step output is {size} bytes; the limit is {MAX_STEP_OUTPUT_BYTES}"
        )
    return await s.complete_step(
        run_id,
        op.id,
        name=op.label,
        op=op.op,
        memo={"error": too_big} if too_big else {"data": data},
        status=StepStatus.FAILED if too_big else StepStatus.COMPLETED,
        now=now,
        started_at=started_at,
        attempts=attempts,
        error=too_big,
    )


@dataclass(frozen=True, slots=True)
class Request:
    """A checkpoint's body, parsed: the call that sends it (``qi_id``) and its steps."""

    qi_id: str
    ops: tuple[Op, ...]

    def stale(self) -> CheckpointRefused:
        return CheckpointRefused(f"call {self.qi_id[:40]!r} is not the run's current one", 409)


def parse(body: Any) -> Request:
    """Parse a checkpoint's body once. Raises :class:`CheckpointRefused`."""
    if not isinstance(body, dict):
        raise CheckpointRefused("checkpoint body must be a JSON object", 400)
    steps = body.get("steps")
    if not isinstance(steps, list) or not all(isinstance(op, dict) for op in steps):
        raise CheckpointRefused("checkpoint 'steps' must be a list of ops", 400)
    ops = parse_ops(steps)
    for op in ops:
        if op.op not in CHECKPOINT_OPS or not op.id:
            # Refused whole, before anything is saved: the SDK then answers with these
            # ops in its response, which the executor carries out as usual.
            raise CheckpointRefused(
                f"op {op.op[:40]!r} cannot be checkpointed; send it in the call's answer",
                400,
            )
    return Request(str(body.get("qi_id") or ""), ops)


async def apply(s: Session, run_id: str, body: Any, now: int) -> int:
    """Save the steps of a checkpoint; the number saved. Raises :class:`CheckpointRefused`."""
    req = parse(body)
    run = await s.lock_run(run_id)
    if run is None:
        raise CheckpointRefused("run not found", 404)
    if run.status.finished or run.status is RunStatus.QUEUED:
        raise CheckpointRefused(f"run is {run.status.api_name.lower()}: stale dispatch", 409)
    item_id, _, attempt = req.qi_id.partition(":")
    item = await s.get_item(int(item_id)) if item_id.isdigit() else None
    if item is None or item.run_id != run_id or str(item.attempt) != attempt:
        raise req.stale()
    for op in req.ops:
        refused = _too_big(jsonutil.dumps_str({"data": op.output}))
        if refused is not None:
            raise refused
    last = _last_end(req.ops)
    for op in req.ops:
        started_at = _started_at(op, now, last)
        await save_output(s, run_id, op, started_at=started_at, attempts=item.attempt + 1, now=now)
    return len(req.ops)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint request: the run, the request body, and when it arrived."""

    run_id: str
    body: Any
    now: int


def _too_big(memo: str) -> CheckpointRefused | None:
    if len(memo) <= MAX_STEP_OUTPUT_BYTES:
        return None
    # Refused, not saved as a failed step: the SDK goes on after a saved checkpoint, so it
    # would never see the failure. It answers the step instead, whose output then fails the
    # step as any answer over the limit does (Machine.apply).
    return CheckpointRefused(
        f"step output is {len(memo)} bytes; the limit is {MAX_STEP_OUTPUT_BYTES}: "
        "send it in the call's answer",
        413,
    )


def _steps(c: Checkpoint, req: Request) -> list[CheckpointStep]:
    """The checkpoint's steps as rows to save. Raises :class:`CheckpointRefused`."""
    item_id, _, attempt = req.qi_id.partition(":")
    if not item_id.isdigit() or not attempt.isdigit():
        raise req.stale()
    rows = []
    last = _last_end(req.ops)
    for op in req.ops:
        memo = jsonutil.dumps_str({"data": op.output})
        refused = _too_big(memo)
        if refused is not None:
            raise refused
        rows.append(
            CheckpointStep(
                run_id=c.run_id,
                item_id=int(item_id),
                attempt=int(attempt),
                step=op.id,
                name=op.label,
                op=op.op,
                memo=memo,
                started_at=_started_at(op, c.now, last),
                now=c.now,
            )
        )
    return rows


#: The longest step duration believed from an SDK's ``timing``: a step runs within one call.
MAX_TIMING_MS = int(MAX_CALL_TIMEOUT_S * 1000)


def _last_end(ops: Sequence[Op]) -> int | None:
    """When the last of a checkpoint's steps ended, by the app's clock."""
    ends = [op.timing.end for op in ops if op.timing is not None]
    return max(ends) if ends else None


def _started_at(op: Op, now: int, last_end: int | None) -> int | None:
    """When the step began, from the ``timing`` the SDK adds to a checkpointed op (by the
    app's clock): the last step of the checkpoint is taken to have ended now, and each
    began that long before, so the steps keep their order and durations whether or not
    the clocks agree. None when absent or not believable."""
    if op.timing is None or last_end is None:
        return None
    ago = last_end - op.timing.start
    if not 0 <= op.timing.end - op.timing.start <= ago <= MAX_TIMING_MS:
        return None
    return now - ago


def _refusal(outcome: str, req: Request) -> CheckpointRefused:
    if outcome == "no_run":
        return CheckpointRefused("run not found", 404)
    if outcome.startswith("not_running:"):
        status = RunStatus(outcome.partition(":")[2])
        return CheckpointRefused(f"run is {status.api_name.lower()}: stale dispatch", 409)
    return req.stale()


async def apply_batch(store: Store, batch: Sequence[Checkpoint]) -> list[int | BaseException]:
    """Save checkpoints that arrived together (a group commit: an SDK checkpoints every
    step, so under load one commit each would be the bottleneck): one transaction, one
    round trip on PostgreSQL (``Store.save_checkpoints``). Each result is the number of
    steps saved, or the :class:`CheckpointRefused` of a checkpoint that wrote nothing.
    """
    results: list[int | BaseException] = [0] * len(batch)
    requests: dict[int, Request] = {}
    rows: list[CheckpointStep] = []
    owners: list[int] = []
    for i, c in enumerate(batch):
        try:
            requests[i] = parse(c.body)
            steps = _steps(c, requests[i])
        except CheckpointRefused as exc:
            results[i] = exc
            continue
        rows += steps
        owners += [i] * len(steps)
    if rows:
        for i, outcome in zip(owners, await store.save_checkpoints(rows), strict=True):
            if outcome == "saved":
                result = results[i]
                results[i] = result + 1 if isinstance(result, int) else result
            elif not isinstance(results[i], BaseException):
                # All of one checkpoint's steps share its run and call: none was written.
                results[i] = _refusal(outcome, requests[i])
    return results
