"""What the server shows, read once for every view of it: the REST API (``rest``) shapes
these as JSON, the dashboard as pages. One query path, so a page never says something the
API does not."""

from __future__ import annotations

import logging
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
from outlast.engine.config import ConfigProblem, FunctionSpec, build_spec
from outlast.engine.expressions import ExpressionError
from outlast.engine.flow import ConcurrencySpec, GcraSpec
from outlast.protocol.registration import FunctionConfig
from outlast.store import Session, Store
from outlast.store.dashboard import Bounded, KeyLoad

log = logging.getLogger(__name__)

#: Rows each flow-control list of a function's page shows.
FLOW_ROWS = 10
#: Throttle / rate-limit keys and open batches read to pick the rows shown from.
FLOW_READ = 100
#: Pending debounces counted (a page says "1000+" beyond).
DEBOUNCE_COUNT = 1000


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


# -- flow control now --------------------------------------------------------------------------
# How engine.flow (and engine.debounce) store each key: a prefix naming the function or the
# shared constraint, then the value the key expression gave ("" without an expression).


@dataclass(frozen=True, slots=True)
class ConcurrencyKeyNow:
    #: The key's value (what the expression gave), and the key as stored.
    value: str
    stored: str
    #: "fn", or "env" / "account": shared by every function using the same key.
    scope: str
    load: KeyLoad


@dataclass(frozen=True, slots=True)
class ConcurrencyNow:
    """The busiest keys (calls in flight plus waiting), at most ``FLOW_ROWS``."""

    keys: list[ConcurrencyKeyNow]
    #: Keys with calls found in all (``more``: and more may exist).
    found: int
    more: bool
    #: Whether a key expression is set (else one key per constraint; in every part below).
    keyed: bool


@dataclass(frozen=True, slots=True)
class GcraKeyNow:
    value: str
    stored: str
    #: When the next run starts (throttle) or the next event is admitted (rate limit);
    #: None: now.
    admitted_at: int | None


@dataclass(frozen=True, slots=True)
class GcraNow:
    """A throttle's or a rate limit's keys, the latest admission first."""

    #: "throttle" or "rateLimit", as synced.
    kind: str
    keys: list[GcraKeyNow]
    more: bool
    keyed: bool


@dataclass(frozen=True, slots=True)
class DebounceKeyNow:
    value: str
    event_id: str
    first_at: int
    due_at: int


@dataclass(frozen=True, slots=True)
class DebounceNow:
    """Pending debounces, the next to fire first."""

    pending: list[DebounceKeyNow]
    #: How many are pending (``more``: at least that many).
    count: int
    more: bool
    keyed: bool


@dataclass(frozen=True, slots=True)
class BatchNow:
    value: str
    id: str
    size: int
    bytes: int
    created_at: int
    #: When its timeout starts its run, unless it fills first.
    closes_at: int


@dataclass(frozen=True, slots=True)
class BatchesNow:
    """Open batches, the oldest first."""

    batches: list[BatchNow]
    max_size: int
    more: bool
    keyed: bool


@dataclass(frozen=True, slots=True)
class SingletonKeyNow:
    value: str
    run_id: str
    status: RunStatus | None


@dataclass(frozen=True, slots=True)
class SingletonNow:
    mode: str
    holders: list[SingletonKeyNow]
    more: bool
    keyed: bool


@dataclass(frozen=True, slots=True)
class FlowNow:
    """A function's flow-control state in the store at ``now``: one part per option it
    has (None: it has not)."""

    now: int
    concurrency: ConcurrencyNow | None
    throttle: GcraNow | None
    rate_limit: GcraNow | None
    debounce: DebounceNow | None
    batch: BatchesNow | None
    singleton: SingletonNow | None


def concurrency_prefix(function_id: str, c: ConcurrencySpec) -> str:
    """What every stored key of a concurrency constraint starts with (``flow.concurrency_keys``)."""
    return f"fn:{function_id}:" if c.scope == "fn" else f"{c.scope}:{c.key or ''}:"


def gcra_prefix(kind: str, function_id: str) -> str:
    """``kind`` "throttle" or "rate" (``flow.gcra_key``)."""
    return f"{kind}:{function_id}:"


def keyed_prefix(function_id: str) -> str:
    """Singleton and debounce keys (``flow.singleton_key``, ``debounce.add``)."""
    return f"{function_id}:"


def admitted_at(tat: int | None, now: int, spec: GcraSpec) -> int | None:
    """When GCRA next admits a run start (throttle) or an event (rate limit) for a key with
    this theoretical arrival time; None: now. The same rule as ``flow.throttle_admit``
    and ``flow.rate_limit_admit``: admitted once ``tat - tolerance`` has passed."""
    if tat is None:
        return None
    at = round(tat - spec.tolerance_ms)
    return at if at > now else None


def busiest_keys(
    function_id: str, specs: tuple[ConcurrencySpec, ...], loads: Bounded[KeyLoad]
) -> ConcurrencyNow:
    """The ``FLOW_ROWS`` busiest keys, each with its value and the scope of the
    constraint whose prefix it has (the longest, when two match)."""
    prefixes = sorted(
        ((concurrency_prefix(function_id, c), c.scope) for c in specs), key=lambda p: -len(p[0])
    )
    shown: list[ConcurrencyKeyNow] = []
    for load in sorted(loads.rows, key=lambda x: (-x.load, x.key))[:FLOW_ROWS]:
        prefix, scope = next(((p, s) for p, s in prefixes if load.key.startswith(p)), ("", "fn"))
        shown.append(ConcurrencyKeyNow(load.key[len(prefix) :], load.key, scope, load))
    keyed = any(c.key for c in specs)
    return ConcurrencyNow(shown, len(loads.rows), loads.more, keyed)


def function_spec(record: FunctionRecord) -> FunctionSpec | None:
    """The function as the engine runs it; None when its stored config no longer parses
    (the engine skips it too)."""
    try:
        return build_spec(record.app_id, FunctionConfig.model_validate(record.config))
    except (ConfigProblem, ExpressionError, ValueError) as exc:
        log.warning("stored function does not parse", extra={"fn": record.id, "err": str(exc)})
        return None


async def flow_now(store: Store, record: FunctionRecord, now: int) -> FlowNow | None:
    """What the store knows of the function's flow control at ``now``; None when it has no
    option with state (concurrency, throttle, rate limit, debounce, batches, singleton).
    Every part is a bounded read of an index."""
    spec = function_spec(record)
    if spec is None:
        return None
    f = spec.flow
    options = (f.throttle, f.rate_limit, f.debounce, f.singleton, spec.batch)
    if not f.concurrency and all(o is None for o in options):
        return None
    async with store.read() as r:
        concurrency = None
        if f.concurrency:
            prefixes = [concurrency_prefix(spec.id, c) for c in f.concurrency]
            loads = await r.concurrency_load(prefixes, now)
            concurrency = busiest_keys(spec.id, f.concurrency, loads)
        throttle = rate_limit = None
        if f.throttle is not None:
            throttle = await _gcra(r, "throttle", spec.id, f.throttle, now)
        if f.rate_limit is not None:
            rate_limit = await _gcra(r, "rateLimit", spec.id, f.rate_limit, now)
        return FlowNow(
            now=now,
            concurrency=concurrency,
            throttle=throttle,
            rate_limit=rate_limit,
            debounce=await _debounce(r, spec) if f.debounce is not None else None,
            batch=await _batches(r, spec) if spec.batch is not None else None,
            singleton=await _singleton(r, spec) if f.singleton is not None else None,
        )


async def _gcra(r: Session, kind: str, function_id: str, spec: GcraSpec, now: int) -> GcraNow:
    prefix = gcra_prefix("throttle" if kind == "throttle" else "rate", function_id)
    found = await r.gcra_rows(prefix, FLOW_READ)
    keys = [
        GcraKeyNow(g.key[len(prefix) :], g.key, admitted_at(g.tat, now, spec)) for g in found.rows
    ]
    # The most held back first; a key free now is listed after every held one.
    keys.sort(key=lambda k: (-(k.admitted_at or 0), k.value))
    more = found.more or len(keys) > FLOW_ROWS
    return GcraNow(kind, keys[:FLOW_ROWS], more, spec.key is not None)


async def _debounce(r: Session, spec: FunctionSpec) -> DebounceNow:
    assert spec.flow.debounce is not None
    prefix = keyed_prefix(spec.id)
    found = await r.debounces_due(prefix, spec.id, DEBOUNCE_COUNT)
    pending = sorted(found.rows, key=lambda d: (d.due_at, d.key))
    rows = [
        DebounceKeyNow(d.key[len(prefix) :], d.event_id, d.first_at, d.due_at)
        for d in pending[:FLOW_ROWS]
    ]
    return DebounceNow(rows, len(found.rows), found.more, spec.flow.debounce.key is not None)


async def _batches(r: Session, spec: FunctionSpec) -> BatchesNow:
    assert spec.batch is not None
    found = await r.open_batches(spec.id, FLOW_READ)
    oldest = sorted(found.rows, key=lambda b: (b.created_at, b.key))[:FLOW_ROWS]
    batches = [
        BatchNow(b.key, b.id, b.size, b.bytes, b.created_at, b.created_at + spec.batch.timeout_ms)
        for b in oldest
    ]
    more = found.more or len(found.rows) > FLOW_ROWS
    return BatchesNow(batches, spec.batch.max_size, more, spec.batch.key is not None)


async def _singleton(r: Session, spec: FunctionSpec) -> SingletonNow:
    single = spec.flow.singleton
    assert single is not None
    prefix = keyed_prefix(spec.id)
    found = await r.singleton_holders(prefix, spec.id, FLOW_ROWS)
    holders = [SingletonKeyNow(h.key[len(prefix) :], h.run_id, h.status) for h in found.rows]
    return SingletonNow(single.mode, holders, found.more, single.key is not None)
