"""Run management: pause and resume a function, invoke it, replay stored events, rerun a run.

Each function here runs inside a transaction its caller opened (see ``Engine``), and
starts runs the way ingest does (``Lifecycle.start_runs``), so a replayed or rerun run has
the same timeouts and cancel rules as any other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from outlast.domain import EventRecord, FunctionRecord, RunRecord, StepRecord
from outlast.engine import events as ev
from outlast.engine.config import FunctionSpec
from outlast.engine.lifecycle import DEDUPE_MS, Lifecycle
from outlast.protocol import ids, jsonutil
from outlast.protocol.ops import EVENT_FUNCTION_INVOKED
from outlast.store import Session

#: Most runs one ``POST /v1/functions/{id}/replay`` starts; call again for the rest.
MAX_REPLAY = 10_000
#: Events read per transaction during a range replay.
REPLAY_PAGE = 500


class ManageError(Exception):
    """A request that cannot be carried out; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ManageError):
    """No such function, event, run or step."""


class Invalid(ManageError):
    """The request itself is wrong."""


class Conflict(ManageError):
    """The request is fine, the state it meets is not (e.g. the function is paused)."""


def resolve_function(functions: list[FunctionRecord], ref: str, app_id: str | None) -> str:
    """The stored id of the function ``ref`` names: its full id (``<app>-<fn>``), or the
    app-local id with ``app_id``, or without it when only one app has such a function."""
    known = {f.id: f for f in functions}
    if app_id is not None:
        if f"{app_id}-{ref}" in known:
            return f"{app_id}-{ref}"
        if ref in known and known[ref].app_id == app_id:
            return ref
        raise NotFound(f"function {ref!r} not found in app {app_id!r}")
    if ref in known:
        return ref
    local = sorted(f.id for f in functions if f.id == f"{f.app_id}-{ref}")
    if len(local) == 1:
        return local[0]
    if local:
        raise Invalid(f"function {ref!r} is in several apps ({', '.join(local)}): give its full id")
    raise NotFound(f"function {ref!r} not found")


async def set_paused(s: Session, function_id: str, paused: bool, now: int) -> FunctionRecord:
    record = await s.set_function_paused(function_id, paused, now)
    if record is None:
        raise NotFound(f"function {function_id!r} not found")
    return record


def _runnable(machine: Lifecycle, function_id: str) -> FunctionSpec:
    spec = machine.registry.get(function_id)
    if spec is None:
        raise Conflict(f"function {function_id!r} is not synced (or its config is invalid)")
    if machine.registry.is_paused(function_id):
        raise Conflict(f"function {function_id!r} is paused: resume it first")
    return spec


# -- invoke ----------------------------------------------------------------------------------


async def invoke(
    s: Session, machine: Lifecycle, function_id: str, data: dict[str, Any], now: int, max_bytes: int
) -> RunRecord:
    """Start a run of the function now, with an ``inngest/function.invoked`` event carrying
    ``data`` (stored like any event, so the run shows what it was given), as ``step.invoke``
    does without a calling run. Triggers, batching and debounce do not apply: the function
    was asked for by name; its idempotency, singleton and concurrency keys do."""
    if machine.registry.get(function_id) is None:
        raise NotFound(f"function {function_id!r} is not synced (or its config is invalid)")
    spec = _runnable(machine, function_id)
    internal_id = ids.ulid_at(now)
    # As at the event API, "_inngest" in data is the server's to set.
    fields = {k: v for k, v in data.items() if k != "_inngest"}
    payload: dict[str, Any] = {
        "name": EVENT_FUNCTION_INVOKED,
        "data": {**fields, "_inngest": {"fn_id": function_id}},
        "id": internal_id,
        "ts": now,
        "user": {},
    }
    if len(jsonutil.dumps(payload)) > max_bytes:
        raise Invalid(f"the payload is larger than the limit of {max_bytes} bytes")
    await s.insert_events([EventRecord(internal_id, EVENT_FUNCTION_INVOKED, payload, now)])
    runs = await machine.start_runs(s, [machine.new_run(spec, [payload], internal_id, now)], now)
    if not runs:
        raise Conflict(
            "the run was not started: another run holds the function's idempotency or singleton key"
        )
    return runs[0]


# -- replay ----------------------------------------------------------------------------------


async def replay_event(s: Session, machine: Lifecycle, event_id: str, now: int) -> list[RunRecord]:
    """Start a run of every function the stored event triggers now (filters apply, paused
    functions start none). Event-id dedupe does not apply: a replay is asked for. A
    function that batches events gets a run of this event alone; waits and cancel rules
    of other runs are not matched again."""
    rec = await s.get_event(event_id)
    if rec is None:
        raise NotFound(f"event {event_id!r} not found")
    started = [
        machine.new_run(spec, [rec.payload], rec.internal_id, now)
        for spec in machine.registry.for_event(rec.name)
        if ev.trigger_matches(spec, rec.payload) and not machine.registry.is_paused(spec.id)
    ]
    runs = await machine.start_runs(s, started, now)
    await _forget_skips(s, runs)
    return runs


@dataclass(frozen=True, slots=True)
class ReplayPage:
    runs: list[RunRecord]
    #: Where the next page starts; None when the range is exhausted.
    cursor: tuple[int, str] | None


async def replay_page(
    s: Session,
    machine: Lifecycle,
    function_id: str,
    *,
    since: int,
    until: int,
    cursor: tuple[int, str],
    budget: int,
    now: int,
) -> ReplayPage:
    """Start runs of the function for the next page of its events in ``[since, until)``
    that started no run of it, at most ``budget`` runs. An event with an ``id`` starts
    no run while an earlier run of that id holds it (as at ingest). Nothing starts once
    the function is paused or removed (checked before the first page: ``check_replayable``)."""
    spec = machine.registry.get(function_id)
    if spec is None or machine.registry.is_paused(function_id):
        return ReplayPage([], None)
    names = sorted({t.event for t in spec.event_triggers})
    events = await s.events_without_run(
        function_id, names, since=since, until=until, after=cursor, limit=REPLAY_PAGE
    )
    started: list[RunRecord] = []
    for rec in events:
        cursor = (rec.received_at, rec.internal_id)
        if not ev.trigger_matches(spec, rec.payload):
            continue
        user_id = rec.payload.get("id")
        key = None
        if user_id and user_id != rec.internal_id:
            key = (f"event:{user_id}", now + DEDUPE_MS)  # the key ingest takes for an id
        new = machine.new_run(spec, [rec.payload], rec.internal_id, now, key)
        started += await machine.start_runs(s, [new], now)
        if len(started) >= budget:
            break
    await _forget_skips(s, started)
    more = len(started) >= budget or len(events) == REPLAY_PAGE
    return ReplayPage(started, cursor if more else None)


async def _forget_skips(s: Session, runs: list[RunRecord]) -> None:
    """The events these runs were replayed for started a run after all: why they started
    none before (paused, filtered ...) no longer applies."""
    await s.delete_event_skips([(r.event_id, r.function_id) for r in runs if r.event_id])


def check_replayable(machine: Lifecycle, function_id: str) -> None:
    """Refuse a range replay of a function that cannot start runs from events."""
    spec = _runnable(machine, function_id)
    if not spec.event_triggers:
        raise Invalid(
            f"function {function_id!r} has no event trigger: there are no events to replay "
            "(cron ticks skipped while paused are not stored)"
        )


# -- rerun -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rerun:
    run: RunRecord
    original: RunRecord
    #: The step the rerun starts from (its hash), or None: from scratch.
    from_step: str | None
    #: The steps whose memos the rerun keeps, in the original's stack order.
    kept: list[str]


def _find_step(steps: list[StepRecord], ref: str) -> StepRecord:
    """The step with hash ``ref``, else the one step named ``ref``."""
    for step in steps:
        if step.hash == ref:
            return step
    named = [step for step in steps if step.name == ref]
    if len(named) == 1:
        return named[0]
    if named:
        hashes = ", ".join(step.hash for step in named)
        raise Invalid(f"several steps of the run are named {ref!r}: give its id ({hashes})")
    raise Invalid(f"the run has no step {ref!r} (give a step's id or name from GET /v1/runs/ID)")


async def rerun(
    s: Session, machine: Lifecycle, run_id: str, from_step: str | None, now: int
) -> Rerun:
    """A new run of the run's function with the same events. From a step, the steps that
    finished before it (in the original's stack order) keep their memos and do not run
    again; that step and everything after it do. A step that never finished keeps every
    finished step. The rerun answers no invoking run."""
    original = await s.get_run(run_id)
    if original is None:
        raise NotFound(f"run {run_id!r} not found")
    spec = _runnable(machine, original.function_id)
    kept: list[str] = []
    step_hash: str | None = None
    if from_step is not None:
        step = _find_step(await s.list_steps(run_id), from_step)
        step_hash = step.hash
        stack = original.stack
        kept = stack[: stack.index(step_hash)] if step_hash in stack else list(stack)
    new = machine.new_run(spec, original.events, original.event_id, now, batch_id=original.batch_id)
    new = dataclasses.replace(new, run=dataclasses.replace(new.run, stack=kept))
    created = await machine.start_runs(s, [new], now)
    if not created:
        raise Conflict(
            "the rerun was not started: another run holds the function's idempotency or "
            "singleton key"
        )
    run = created[0]
    await s.copy_steps(original.id, run.id, kept)
    await s.set_original_run(run.id, original.id)
    return Rerun(run=run, original=original, from_step=step_hash, kept=kept)
