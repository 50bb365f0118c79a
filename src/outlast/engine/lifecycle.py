"""A run's life: events in, new runs, their first call, waits resolved, steps failed, the
end. Everything that acts on a run's state builds on this module (the op handlers in
``engine.ops``, the timers in ``engine.timers``, run management); it imports none of them.

Each method runs inside a transaction its caller opened, so a state change and everything
it implies (memo, queue items, waits, system events, new runs) commit together or not at
all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from outlast.domain import (
    EventRecord,
    EventSkip,
    QueueKind,
    RunRecord,
    RunStatus,
    SkipReason,
    StepStatus,
    Wait,
    WaitKind,
)
from outlast.engine import admission, batching, debounce, errors, flow, skips, timeouts
from outlast.engine import events as ev
from outlast.engine.config import FunctionSpec
from outlast.engine.registry import Registry
from outlast.protocol import ids, jsonutil
from outlast.protocol.ops import MAX_STEP_OUTPUT_BYTES
from outlast.store import NewItem, NewRun, Session

log = logging.getLogger(__name__)

#: How long an event id (or cron tick) blocks a second run of the same function.
DEDUPE_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class Options:
    owner: str
    lease_ms: int
    retry_interval_ms: int | None = None


def step_key(run_id: str, step: str) -> str:
    """The dedupe key of a planned step's call: at most one queued per step."""
    return f"step:{run_id}:{step}"


def resume_key(run_id: str, step: str) -> str:
    """The dedupe key of a step's resume timer: at most one per step."""
    return f"resume:{run_id}:{step}"


class Lifecycle:
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

    # -- new runs --------------------------------------------------------------------------

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
        created = await self._singletons(s, made, now)
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
            timer = timeouts.start_timer(run, spec, admission.scheduled_start(run, now))
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

    async def _singletons(self, s: Session, created: list[RunRecord], now: int) -> list[RunRecord]:
        """``singleton``: at most one unfinished run per key. In ``skip`` mode a new run
        whose key is held is dropped; in ``cancel`` mode it replaces the holder, which is
        cancelled. Runs are claimed after they were created, so an event sent twice (its id
        already seen) never cancels the run it started."""
        kept: list[RunRecord] = []
        for run in created:
            spec = self.registry.get(run.function_id)
            single = spec.flow.singleton if spec is not None else None
            if spec is None or single is None:
                kept.append(run)
                continue
            key = flow.singleton_key(spec.id, single, run.events[0] if run.events else {})
            holder = await s.claim_singleton(key, run.id)
            if holder is not None and single.mode == "skip":
                log.info("singleton run skipped", extra={"fn": spec.id, "holder": holder})
                await s.drop_new_run(run.id)
                continue
            if holder is not None:
                await s.set_singleton(key, run.id)
                await self.cancel(s, holder, now, reason="singleton: replaced by a newer run")
            kept.append(run)
        return kept

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

    async def start(self, s: Session, run_id: str, spec: FunctionSpec, now: int) -> None:
        """The server is about to call the app for a queued run for the first time."""
        if await s.start_run(run_id, now):
            timer = timeouts.finish_timer(run_id, spec, now)
            if timer is not None:
                await s.enqueue([timer])

    # -- steps -----------------------------------------------------------------------------

    async def resolve_wait(
        self, s: Session, run_id: str, step: str, memo: Any, now: int, *, failed: bool = False
    ) -> bool:
        """Give a waiting step its memo (event, invoke result, timeout) and continue the run."""
        run = await s.lock_run(run_id)
        if run is None or run.status.finished:
            return False
        wait = await s.take_wait(run_id, step)
        if wait is None:
            return False
        await s.delete_item_by_key(resume_key(run_id, step))
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
        await self.step_resolved(s, run_id, now, race=wait.race)
        return True

    async def step_resolved(self, s: Session, run_id: str, now: int, *, race: bool) -> None:
        """A sleep, wait or invoke resolved: call the app again once the rest of its
        parallel group is in too (at once for a step planned in race mode)."""
        if race or await s.pending_steps(run_id) == 0:
            await s.enqueue([NewItem(QueueKind.DISCOVER, run_id, now)])

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
        reason: str | None = None,
    ) -> bool:
        """End a run; emit its system events and answer the run that invoked it.

        ``error`` is stored as given; the events and an invoking run get it in Inngest's
        shape, ``reason`` (how the last call failed) filling in what the app did not say."""
        if not await s.finish_run(run.id, status, now, output=output, error=error):
            return False
        spec = self.registry.get(run.function_id)
        if spec is None or spec.flow.singleton is not None:
            await s.release_singleton(run.id)
        parent = run.parent or {}
        told = errors.as_standard(error, reason) if status is not RunStatus.COMPLETED else None
        system = ev.system_events(run, status, output, told, now)
        await self.ingest(s, system, now)
        if parent.get("run_id") and parent.get("step"):
            if status is RunStatus.COMPLETED:
                memo: dict[str, Any] = {"data": output}
            else:
                memo = {"error": told}
            await self.resolve_wait(
                s, parent["run_id"], parent["step"], memo, now, failed="error" in memo
            )
        return True

    async def complete(self, s: Session, run: RunRecord, output: Any, now: int) -> bool:
        """The function returned ``output``: the run completes, or fails when the output is
        over the limit (returning it again would fail the same way)."""
        size = len(jsonutil.dumps(output))
        if size > MAX_STEP_OUTPUT_BYTES:
            err = errors.output_too_large(
                f"the function's output is {size} bytes; the limit is {MAX_STEP_OUTPUT_BYTES}"
            )
            return await self.finish(s, run, RunStatus.FAILED, now, error=err)
        return await self.finish(s, run, RunStatus.COMPLETED, now, output=output)

    async def cancel(self, s: Session, run_id: str, now: int, *, reason: str) -> bool:
        run = await s.lock_run(run_id)
        if run is None or run.status.finished:
            return False
        return await self.finish(
            s, run, RunStatus.CANCELLED, now, error=errors.standard("Cancelled", reason)
        )
