"""The engine's entry points: events in (``ingest``, from the lifecycle), an app's answer
applied (``apply``: each op through the table of ``engine.ops``), a timer fired (``fire``:
through the table of ``engine.timers``).

Each method runs inside a transaction its caller opened.
"""

from __future__ import annotations

from typing import Any

from outlast.domain import (
    DISCOVERY_HASH,
    QueueItem,
    QueueKind,
    RunRecord,
    RunStatus,
    StepAttempt,
    StepStatus,
)
from outlast.engine import errors, ops, timers
from outlast.engine.backoff import retry_delay_ms
from outlast.engine.caller import CallResult, Done, Failed, GatewayAnswer
from outlast.engine.config import FunctionSpec
from outlast.engine.lifecycle import Lifecycle, Options
from outlast.engine.payloads import StepPayload
from outlast.protocol import jsonutil
from outlast.protocol.ops import Opcode
from outlast.store import NewItem, Session

__all__ = ["Machine", "Options"]


class Machine(Lifecycle):
    """Moves runs from state to state: the lifecycle, plus apps' answers and timers."""

    async def fire(self, s: Session, item: QueueItem, now: int) -> None:
        """A timer is due (any queue item that is not a call to an app)."""
        await timers.HANDLERS[item.kind](self, s, item, now)

    async def apply(
        self,
        s: Session,
        item: QueueItem,
        spec: FunctionSpec,
        result: CallResult,
        started_at: int,
        now: int,
    ) -> QueueItem | None:
        """Act on an app's answer. Returns a discover item leased to the caller when the
        run should go on at once (the next call needs no trip through the queue)."""
        assert item.run_id is not None
        run = await s.lock_run(item.run_id)
        if run is None or run.status.finished:
            await s.delete_item(item.id)
            return None
        if run.status is RunStatus.QUEUED:
            await self.start(s, run.id, spec, started_at)
        if isinstance(result, Done):
            await s.delete_item(item.id)
            await self.complete(s, run, result.output, now)
            return None
        if isinstance(result, Failed):
            await self._call_failed(s, item, run, spec, result, started_at, now)
            return None
        return await self._carry_out(ops.Call(self, s, item, run, spec, result, started_at, now))

    async def gateway_answered(
        self, s: Session, item: QueueItem, answer: GatewayAnswer, started_at: int, now: int
    ) -> None:
        """A request the server sent for a step (``step.ai.infer``) was answered: a 2xx
        body is the step's output; anything else is an attempt of the step, retried by its
        function's policy, then the step fails with Inngest's ``AIGatewayError`` (the body
        in its stack) and the app sees it."""
        assert item.run_id is not None and item.step is not None
        run = await s.lock_run(item.run_id)
        if run is None or run.status.finished:
            await s.delete_item(item.id)
            return
        err: dict[str, Any] | None = None
        if answer.ok:
            body = answer.body or ""
            try:
                output: Any = jsonutil.loads(body) if body.strip() else None
            except ValueError:
                output = body
            memo: dict[str, Any] = {"data": output}
        else:
            why = answer.problem or f"unsuccessful status code: {answer.status}"
            err = errors.standard("AIGatewayError", f"Error making AI request: {why}", answer.body)
            await s.add_step_attempts(
                [StepAttempt(run.id, item.step, item.attempt, started_at, now, err)]
            )
            spec = self.registry.get(run.function_id)
            if item.attempt + 1 < (spec.retries if spec is not None else 0) + 1:
                due = now + retry_delay_ms(item.attempt, self.opts.retry_interval_ms)
                await s.retry_item(item.id, due, item.attempt + 1)
                await self._step_retrying(s, run.id, item, Opcode.AI_GATEWAY.value, err, now)
                return
            memo = {"error": err}
        await s.delete_item(item.id)
        saved = await s.complete_step(
            run.id,
            item.step,
            name=None,
            op=Opcode.AI_GATEWAY.value,
            memo=memo,
            status=StepStatus.COMPLETED if err is None else StepStatus.FAILED,
            now=now,
            started_at=started_at,
            attempts=item.attempt + 1,
            error=err,
        )
        if saved:
            await self.step_resolved(s, run.id, now, race=False)

    async def _step_retrying(
        self, s: Session, run_id: str, item: QueueItem, op: str, err: dict[str, Any], now: int
    ) -> None:
        """The step of ``item`` failed an attempt and will be tried again: it shows as
        running, with its last error."""
        if item.step:
            await s.upsert_step(
                run_id,
                item.step,
                name=None,
                op=op,
                status=StepStatus.RUNNING,
                now=now,
                attempts=item.attempt + 1,
                error=err,
            )

    async def _call_failed(
        self,
        s: Session,
        item: QueueItem,
        run: RunRecord,
        spec: FunctionSpec,
        result: Failed,
        started_at: int,
        now: int,
    ) -> None:
        """The call failed as a whole: an attempt of the step it ran, or of discovery."""
        err = result.error
        failed = item.step if item.kind is QueueKind.STEP and item.step else DISCOVERY_HASH
        await s.add_step_attempts([StepAttempt(run.id, failed, item.attempt, started_at, now, err)])
        if not result.no_retry and item.attempt + 1 < spec.retries + 1:
            delay = result.retry_after_ms or retry_delay_ms(
                item.attempt, self.opts.retry_interval_ms
            )
            await s.retry_item(item.id, now + delay, item.attempt + 1)
            if item.kind is QueueKind.STEP:
                await self._step_retrying(s, run.id, item, Opcode.STEP_ERROR.value, err, now)
            return
        await s.delete_item(item.id)
        reason = errors.http_failure(result.status, str(err.get("message") or ""))
        await self.finish(s, run, RunStatus.FAILED, now, error=err, reason=reason)

    async def _stalled(self, call: ops.Call) -> bool:
        """A discovery call whose answer changed nothing, for a run with no other work:
        counted as a failed attempt (True). Dropping its item would leave the run with no
        next step; calling again at once could loop for ever."""
        item, run = call.item, call.run
        if item.kind is not QueueKind.DISCOVER or await call.s.pending_steps(run.id) > 0:
            return False
        done = ", ".join(sorted({op.id[:40] for op in call.result.ops}))
        why = f"the app answered with steps that had finished already ({done})"
        failed = Failed(errors.standard("NoProgress", why), status=call.result.status)
        await self._call_failed(call.s, item, run, call.spec, failed, call.started_at, call.now)
        return True

    async def _carry_out(self, call: ops.Call) -> QueueItem | None:
        """Carry out each op, then decide what becomes of the call's item: reused for the
        run's next call at once, replaced by a discovery once a step's siblings are done,
        or deleted."""
        s, item, run = call.s, call.item, call.run
        outcomes: set[ops.Outcome] = set()
        for op in call.result.ops:
            outcome = await ops.handler(op.op)(call, op)
            if outcome is ops.Outcome.ENDED:
                return None
            outcomes.add(outcome)
        if ops.Outcome.RETRYING in outcomes:
            return None
        if outcomes == {ops.Outcome.NOTHING} and await self._stalled(call):
            return None
        if item.kind is QueueKind.STEP or not call.result.ops:
            # Deleted first: the count below is of the planned steps still to run.
            await s.delete_item(item.id)
            race = item.kind is QueueKind.STEP and StepPayload.decode(item).race
            if not race and await s.pending_steps(run.id) != 0:
                return None
            return await s.enqueue_one(
                NewItem(
                    QueueKind.DISCOVER,
                    run.id,
                    call.now + self.opts.lease_ms,
                    lease_owner=self.opts.owner,
                )
            )
        if ops.Outcome.PROGRESSED not in outcomes:
            await s.delete_item(item.id)
            return None
        # The run goes on at once: this call's item becomes the next one, still leased.
        return await s.reuse_item(item.id, call.now + self.opts.lease_ms, self.opts.owner)
