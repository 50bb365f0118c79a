"""Run state transitions. Each method runs inside a transaction its caller opened, so a
state change and everything it implies (memo, queue items, waits, system events, new
runs) commit together or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from outlast.domain import (
    DISCOVERY_HASH,
    EventRecord,
    EventSkip,
    QueueItem,
    QueueKind,
    RunRecord,
    RunStatus,
    SkipReason,
    StepAttempt,
    StepStatus,
    Wait,
    WaitKind,
)
from outlast.engine import (
    admission,
    batching,
    checkpoint,
    debounce,
    flow,
    invoke,
    pauses,
    skips,
    ticks,
    timeouts,
)
from outlast.engine import events as ev
from outlast.engine.backoff import retry_delay_ms
from outlast.engine.caller import CallResult
from outlast.engine.config import FunctionSpec
from outlast.engine.registry import Registry
from outlast.engine.ticks import cron_item as cron_item  # re-exported for the runtime
from outlast.protocol import ids
from outlast.protocol.ops import Opcode
from outlast.store import NewItem, NewRun, Session

log = logging.getLogger(__name__)

#: How long an event id (or cron tick) blocks a second run of the same function.
DEDUPE_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class Options:
    owner: str
    lease_ms: int
    retry_interval_ms: int | None = None


def _step_key(run_id: str, step: str) -> str:
    return f"step:{run_id}:{step}"


def _resume_key(run_id: str, step: str) -> str:
    return pauses.resume_key(run_id, step)


def _error(name: str, message: str) -> dict[str, Any]:
    return {"name": name, "message": message}


class Machine:
    """Moves runs from state to state."""

    def __init__(self, registry: Registry, options: Options) -> None:
        self.registry = registry
        self.opts = options

    # -- events in -----------------------------------------------------------------------

    async def ingest(self, s: Session, records: list[EventRecord], now: int) -> list[RunRecord]:
        """Store events and act on them: resolve waits, apply cancel rules, start runs."""
        new_ids = await s.insert_events(records)
        fresh = [r for r in records if r.internal_id in new_ids]
        if not fresh:
            return []
        await self._match_waits(s, fresh, now)
        started: list[NewRun] = []
        batch_runs: list[RunRecord] = []
        # Why events start no run, written at the end with one statement (none if empty).
        skipped: list[EventSkip] = []
        for rec in fresh:
            for spec in self.registry.for_event(rec.name):
                if not ev.trigger_matches(spec, rec.payload):
                    skip = skips.filtered(rec, spec.id, now)
                    if skip is not None:
                        skipped.append(skip)
                    continue
                if self.registry.is_paused(spec.id):
                    skipped.append(EventSkip(rec.internal_id, spec.id, SkipReason.PAUSED, now))
                    continue
                if spec.flow.rate_limit and not await admission.rate_allows(s, spec, rec, now):
                    limited = EventSkip(rec.internal_id, spec.id, SkipReason.RATE_LIMITED, now)
                    skipped.append(limited)
                    continue
                if spec.flow.debounce is not None:
                    superseded = await debounce.add(s, spec, rec, now)
                    if superseded is not None:
                        skipped.append(EventSkip(superseded, spec.id, SkipReason.DEBOUNCED, now))
                    continue
                if batching.batches(spec, rec.payload):
                    full = await batching.add(s, spec, rec, now)
                    if full is not None:
                        # Closed at once: the request's next events open a new batch.
                        batch_runs += await self.start_batch(s, full, now, skipped)
                    continue
                key = None
                if rec.payload.get("id") and rec.payload["id"] != rec.internal_id:
                    key = (f"event:{rec.payload['id']}", now + DEDUPE_MS)
                started.append(self.new_run(spec, [rec.payload], rec.internal_id, now, key))
        runs = await self.start_runs(s, started, now, skipped) + batch_runs
        await s.insert_event_skips(skipped)
        return runs

    def new_run(
        self,
        spec: FunctionSpec,
        events: list[dict[str, Any]],
        event_id: str | None,
        now: int,
        key: tuple[str, int] | None = None,
        parent: dict[str, Any] | None = None,
        batch_id: str | None = None,
    ) -> NewRun:
        run = RunRecord(
            id=ids.ulid_at(now),
            function_id=spec.id,
            status=RunStatus.QUEUED,
            events=events,
            event_id=event_id,
            queued_at=now,
            parent=parent,
            batch_id=batch_id,
        )
        keys: tuple[tuple[str, int], ...] = (key,) if key is not None else ()
        trigger = events[0] if events else {}
        if spec.flow.idempotency and batch_id is None:
            keys += ((flow.idempotency_key(spec.flow.idempotency, trigger), now + DEDUPE_MS),)
        limits = flow.concurrency_keys(spec.id, spec.flow.concurrency, trigger)
        return NewRun(run, keys, limits)

    async def start_runs(
        self,
        s: Session,
        runs: list[NewRun],
        now: int,
        skipped: list[EventSkip] | None = None,
    ) -> list[RunRecord]:
        """Create and queue runs; the ones a held key or singleton stops are recorded as
        event skips: added to ``skipped`` (which the caller writes), or written at once."""
        made = await s.create_runs(runs)
        created = await admission.singletons(self, s, made, now)
        if len(created) < len(runs):
            found = skips.of_runs(runs, made, created, now)
            if skipped is None:
                await s.insert_event_skips(found)
            else:
                skipped += found
        items: list[NewItem] = []
        waits: list[Wait] = []
        for run in created:
            spec = self.registry.get(run.function_id)
            due = await admission.first_call_at(s, spec, run, now)
            items.append(NewItem(QueueKind.DISCOVER, run.id, due))
            timer = timeouts.start_timer(run, spec, now)
            if timer is not None:
                items.append(timer)
            for rule in spec.cancels if spec else ():
                waits.append(
                    Wait(
                        id=0,
                        run_id=run.id,
                        kind=WaitKind.CANCEL,
                        step=None,
                        event_name=rule.event,
                        expression=rule.expression,
                        event=run.events[0] if run.events else None,
                        correlation_id=None,
                        expires_at=now + rule.timeout_ms if rule.timeout_ms else None,
                    )
                )
        await s.enqueue(items)
        await s.insert_waits(waits)
        return created

    async def _match_waits(self, s: Session, fresh: list[EventRecord], now: int) -> None:
        waits = await s.waits_for_events(sorted({r.name for r in fresh}))
        if not waits:
            return
        done: set[int] = set()
        for rec in fresh:
            for w in waits:
                if w.id in done or w.event_name != rec.name:
                    continue
                if w.expires_at is not None and w.expires_at <= now:
                    continue
                if not ev.wait_matches(w, rec.payload):
                    continue
                done.add(w.id)
                if w.kind is WaitKind.CANCEL:
                    await self.cancel(s, w.run_id, now, reason=f"cancelled by event {rec.name}")
                elif w.step is not None:
                    await self.resolve_wait(s, w.run_id, w.step, rec.payload, now)

    # -- waits and timers ----------------------------------------------------------------

    async def resolve_wait(
        self, s: Session, run_id: str, step: str, memo: Any, now: int, *, failed: bool = False
    ) -> bool:
        """Give a waiting step its memo (event, invoke result, timeout) and continue the run."""
        run = await s.lock_run(run_id)
        if run is None or run.status.finished or not await s.take_wait(run_id, step):
            return False
        await s.delete_item_by_key(_resume_key(run_id, step))
        status = StepStatus.FAILED if failed else StepStatus.COMPLETED
        await s.complete_step(
            run_id,
            step,
            name=None,
            op="",
            memo=memo,
            status=status,
            now=now,
            started_at=None,
            attempts=1,
        )
        await s.enqueue([NewItem(QueueKind.DISCOVER, run_id, now)])
        return True

    async def resume(self, s: Session, item: QueueItem, now: int) -> None:
        """A timer fired: a sleep ended, or a wait / invoke timed out."""
        await s.delete_item(item.id)
        payload = item.payload or {}
        assert item.run_id is not None and item.step is not None
        if payload.get("wait"):
            await self.resolve_wait(s, item.run_id, item.step, payload.get("memo"), now)
            return
        run = await s.lock_run(item.run_id)
        if run is None or run.status.finished:
            return
        await s.complete_step(
            item.run_id,
            item.step,
            name=None,
            op=Opcode.SLEEP.value,
            memo=None,
            status=StepStatus.COMPLETED,
            now=now,
            started_at=None,
            attempts=1,
        )
        await s.enqueue([NewItem(QueueKind.DISCOVER, item.run_id, now)])

    async def start(self, s: Session, run_id: str, spec: FunctionSpec, now: int) -> None:
        """The server is about to call the app for a queued run for the first time."""
        if await s.start_run(run_id, now):
            timer = timeouts.finish_timer(run_id, spec, now)
            if timer is not None:
                await s.enqueue([timer])

    # -- ends ------------------------------------------------------------------------------

    async def finish(
        self,
        s: Session,
        run: RunRecord,
        status: RunStatus,
        now: int,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """End a run; emit its system events and answer the run that invoked it."""
        if not await s.finish_run(run.id, status, now, output=output, error=error):
            return False
        spec = self.registry.get(run.function_id)
        if spec is None or spec.flow.singleton is not None:
            await s.release_singleton(run.id)
        parent = run.parent or {}
        system = ev.system_events(run, status, output, error, now)
        await self.ingest(s, system, now)
        if parent.get("run_id") and parent.get("step"):
            if status is RunStatus.COMPLETED:
                memo: dict[str, Any] = {"data": output}
            else:
                memo = {"error": error or _error("Error", f"invoked run {status.value}")}
            await self.resolve_wait(
                s, parent["run_id"], parent["step"], memo, now, failed="error" in memo
            )
        return True

    async def cancel(self, s: Session, run_id: str, now: int, *, reason: str) -> bool:
        run = await s.lock_run(run_id)
        if run is None or run.status.finished:
            return False
        return await self.finish(
            s, run, RunStatus.CANCELLED, now, error=_error("Cancelled", reason)
        )

    # -- batches -----------------------------------------------------------------------------

    async def start_batch(
        self, s: Session, batch_id: str, now: int, skipped: list[EventSkip] | None = None
    ) -> list[RunRecord]:
        """Close a batch and start its run with the events it holds (skips as in
        ``start_runs``)."""
        closed = await batching.close(s, batch_id)
        if closed is None:
            return []
        function_id, events = closed
        spec = self.registry.get(function_id)
        if spec is None or not events:
            # The events stay stored (and replayable); only the run is not started.
            log.warning("batch of a function that is no longer synced", extra={"batch": batch_id})
            gone = [
                EventSkip(event_id, function_id, SkipReason.FUNCTION_REMOVED, now)
                for event_id, _ in events
            ]
            if skipped is None:
                await s.insert_event_skips(gone)
            else:
                skipped += gone
            return []
        payloads = [payload for _, payload in events]
        run = self.new_run(spec, payloads, events[0][0], now, batch_id=batch_id)
        return await self.start_runs(s, [run], now, skipped)

    async def batch_timeout(self, s: Session, item: QueueItem, now: int) -> None:
        """A batch's timeout fired: its run starts with the events it has."""
        await s.delete_item(item.id)
        await self.start_batch(s, str((item.payload or {}).get("batch_id")), now)

    # -- cron ------------------------------------------------------------------------------

    async def cron_tick(self, s: Session, item: QueueItem, now: int) -> None:
        await ticks.fire(self, s, item, now)

    # -- answers from apps -------------------------------------------------------------------

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
        max_attempts = spec.retries + 1
        if result.kind == "done":
            await s.delete_item(item.id)
            await self.finish(s, run, RunStatus.COMPLETED, now, output=result.output)
            return None
        if result.kind == "error":
            err = result.error or _error("Error", "unknown error")
            # The call failed as a whole: an attempt of the step it ran, or of discovery.
            failed = item.step if item.kind is QueueKind.STEP and item.step else DISCOVERY_HASH
            await s.add_step_attempts(
                [StepAttempt(run.id, failed, item.attempt, started_at, now, err)]
            )
            if not result.no_retry and item.attempt + 1 < max_attempts:
                delay = result.retry_after_ms or retry_delay_ms(
                    item.attempt, self.opts.retry_interval_ms
                )
                await s.retry_item(item.id, now + delay, item.attempt + 1)
                if item.kind is QueueKind.STEP and item.step:
                    await s.upsert_step(
                        run.id,
                        item.step,
                        name=None,
                        op=Opcode.STEP_ERROR.value,
                        status=StepStatus.RUNNING,
                        now=now,
                        attempts=item.attempt + 1,
                        error=err,
                    )
                return None
            await s.delete_item(item.id)
            await self.finish(s, run, RunStatus.FAILED, now, error=err)
            return None
        return await self._apply_ops(s, item, run, spec, result, started_at, now)

    async def _apply_ops(
        self,
        s: Session,
        item: QueueItem,
        run: RunRecord,
        spec: FunctionSpec,
        result: CallResult,
        started_at: int,
        now: int,
    ) -> QueueItem | None:
        assert item.run_id is not None
        ops = result.ops
        progressed = False
        retrying = False
        race = bool((item.payload or {}).get("race"))
        for op in ops:
            code = str(op.get("op", ""))
            step = str(op.get("id", ""))
            name = op.get("displayName") or op.get("name")
            opts = op.get("opts") or {}
            if code == Opcode.RUN_COMPLETE:
                await s.delete_item(item.id)
                await self.finish(s, run, RunStatus.COMPLETED, now, output=op.get("data"))
                return None
            if not step:
                continue
            if code in (Opcode.STEP_RUN, Opcode.STEP):
                await checkpoint.save_output(
                    s, run.id, op, started_at=started_at, attempts=item.attempt + 1, now=now
                )
                progressed = True
            elif code in (Opcode.STEP_ERROR, Opcode.STEP_FAILED):
                err = op.get("error") or _error("Error", "step failed")
                last = (
                    code == Opcode.STEP_FAILED
                    or result.no_retry
                    or item.attempt + 1 >= spec.retries + 1
                )
                if last:
                    await s.complete_step(
                        run.id,
                        step,
                        name=name,
                        op=code,
                        memo={"error": err},
                        status=StepStatus.FAILED,
                        now=now,
                        started_at=started_at,
                        attempts=item.attempt + 1,
                        error=err,
                    )
                    progressed = True
                else:
                    retrying = True
                    delay = result.retry_after_ms or retry_delay_ms(
                        item.attempt, self.opts.retry_interval_ms
                    )
                    await self._retry_step(
                        s, item, run.id, step, name, err, started_at, now, now + delay
                    )
            elif code == Opcode.STEP_PLANNED:
                if step in run.stack:
                    # A discovery call that raced a parallel step's result (race mode) plans
                    # a step that has finished since: running it again would break "a
                    # finished step never runs twice", and the SDK would skip the others.
                    continue
                await s.upsert_step(
                    run.id, step, name=name, op=code, status=StepStatus.PLANNED, now=now
                )
                planned_race = opts.get("parallelMode") == "race"
                await s.enqueue(
                    [
                        NewItem(
                            QueueKind.STEP,
                            run.id,
                            now,
                            step=step,
                            payload={"race": True} if planned_race else None,
                            dedupe_key=_step_key(run.id, step),
                        )
                    ]
                )
            elif code in (Opcode.SLEEP, Opcode.WAIT_FOR_EVENT):
                pause = pauses.sleep if code == Opcode.SLEEP else pauses.wait_for_event
                problem = await pause(s, run, step, name, op, now)
                if problem is not None:
                    await self.fail_step(s, run.id, step, name, code, problem, now)
                elif code == Opcode.WAIT_FOR_EVENT:
                    early = await pauses.missed_event(s, run, step)
                    if early is not None:
                        await self.resolve_wait(s, run.id, step, early, now)
            elif code == Opcode.INVOKE:
                await invoke.invoke(self, s, run, step, name, opts, now)
            else:
                # Ignoring it would leave the run waiting forever: fail it, saying why.
                log.warning("unsupported op", extra={"op": code, "run_id": run.id})
                await s.delete_item(item.id)
                err = _error(
                    "UnsupportedOp", f"the app sent op {code!r}, which Outlast does not support"
                )
                await self.finish(s, run, RunStatus.FAILED, now, error=err)
                return None
        if retrying:
            return None
        if item.kind is QueueKind.STEP or not ops:
            # Deleted first: the count below is of the planned steps still to run.
            await s.delete_item(item.id)
            go_on = (item.kind is QueueKind.STEP and race) or await s.pending_steps(run.id) == 0
            if not go_on:
                return None
            return await s.enqueue_one(
                NewItem(
                    QueueKind.DISCOVER,
                    run.id,
                    now + self.opts.lease_ms,
                    lease_owner=self.opts.owner,
                )
            )
        if not progressed:
            await s.delete_item(item.id)
            return None
        # The run goes on at once: this call's item becomes the next one, still leased.
        return await s.reuse_item(item.id, now + self.opts.lease_ms, self.opts.owner)

    async def _retry_step(
        self,
        s: Session,
        item: QueueItem,
        run_id: str,
        step: str,
        name: Any,
        err: dict[str, Any],
        started_at: int,
        now: int,
        due: int,
    ) -> None:
        await s.add_step_attempts([StepAttempt(run_id, step, item.attempt, started_at, now, err)])
        await s.upsert_step(
            run_id,
            step,
            name=name,
            op=Opcode.STEP_ERROR.value,
            status=StepStatus.RUNNING,
            now=now,
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
                    dedupe_key=_step_key(run_id, step),
                )
            ]
        )

    async def fail_step(
        self, s: Session, run_id: str, step: str, name: Any, op: str, err: dict[str, Any], now: int
    ) -> None:
        """An op the server cannot carry out: the step fails, user code sees a StepError."""
        await s.complete_step(
            run_id,
            step,
            name=name,
            op=op,
            memo={"error": err},
            status=StepStatus.FAILED,
            now=now,
            started_at=now,
            attempts=1,
            error=err,
        )
        await s.enqueue([NewItem(QueueKind.DISCOVER, run_id, now)])
