"""What the server shows, read once for every view of it: the REST API (``rest``) shapes
these as JSON, the dashboard as pages. One query path, so a page never says something the
API does not."""

from __future__ import annotations

from dataclasses import dataclass

from outlast.domain import (
    App,
    EventRecord,
    EventSkip,
    FunctionRecord,
    FunctionStats,
    RunRecord,
    RunStatus,
    StepAttempt,
    StepRecord,
)
from outlast.store import Session, Store


@dataclass(frozen=True, slots=True)
class RunView:
    """A run as listed: with the run it was rerun from, if any."""

    run: RunRecord
    original_run_id: str | None


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run with its steps, in the order they started, and their failed attempts (when
    asked for: the REST API does not show them)."""

    run: RunRecord
    original_run_id: str | None
    steps: list[StepRecord]
    attempts: list[StepAttempt]


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What an event did: the runs it started, and why it started none of some functions."""

    runs: list[RunView]
    skips: list[EventSkip]


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs a list shows; times are unix ms (``since`` inclusive, ``until`` not)."""

    function_id: str | None = None
    status: RunStatus | None = None
    since: int | None = None
    until: int | None = None


async def _views(r: Session, runs: list[RunRecord]) -> list[RunView]:
    origins = await r.original_runs([run.id for run in runs])
    return [RunView(run, origins.get(run.id)) for run in runs]


async def list_runs(
    store: Store, where: RunFilter, *, before: str | None, limit: int
) -> list[RunView]:
    """Newest first; ``before`` is the id of the last run of the previous page."""
    async with store.read() as r:
        runs = await r.list_runs(
            function_id=where.function_id,
            status=where.status,
            before=before,
            since=where.since,
            until=where.until,
            limit=limit,
        )
        return await _views(r, runs)


async def get_run(store: Store, run_id: str, *, attempts: bool = False) -> RunDetail | None:
    async with store.read() as r:
        run = await r.get_run(run_id)
        if run is None:
            return None
        steps = await r.list_steps(run_id)
        [view] = await _views(r, [run])
        failed = await r.list_step_attempts(run_id) if attempts else []
    return RunDetail(run, view.original_run_id, steps, failed)


async def list_events(
    store: Store, *, name: str | None, before: str | None, limit: int
) -> list[EventRecord]:
    """Newest first; ``before`` is the internal id of the last event of the previous page."""
    async with store.read() as r:
        return await r.list_events(name=name, before=before, limit=limit)


async def get_event(store: Store, event_id: str) -> EventRecord | None:
    async with store.read() as r:
        return await r.get_event(event_id)


async def event_runs(store: Store, event_id: str) -> list[RunView] | None:
    """The runs the event started (its batch's run included); None: no such event."""
    async with store.read() as r:
        runs = await r.runs_for_event(event_id)
        if not runs and await r.get_event(event_id) is None:
            return None
        return await _views(r, runs)


async def event_outcome(store: Store, event_id: str) -> EventOutcome | None:
    """The event's runs and skips; None: no such event."""
    async with store.read() as r:
        runs = await r.runs_for_event(event_id)
        if not runs and await r.get_event(event_id) is None:
            return None
        skips = await r.list_event_skips([event_id])
        return EventOutcome(await _views(r, runs), skips)


async def list_apps(store: Store) -> list[App]:
    async with store.read() as r:
        return await r.list_apps()


async def get_app(store: Store, app_id: str) -> App | None:
    async with store.read() as r:
        return await r.get_app(app_id)


async def list_functions(store: Store) -> list[FunctionRecord]:
    async with store.read() as r:
        return await r.list_functions()


async def get_function(store: Store, function_id: str) -> FunctionRecord | None:
    async with store.read() as r:
        return await r.get_function(function_id)


async def function_stats(
    store: Store, function_ids: list[str], since: int
) -> dict[str, FunctionStats]:
    """Runs of each function queued at or after ``since`` (ms), by outcome."""
    async with store.read() as r:
        return await r.function_stats(function_ids, since)
