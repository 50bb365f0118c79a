"""The schema behind ``POST /v0/gql``: a small subset of Inngest's GraphQL API
(``pkg/coreapi/*.graphql``), written as SDL, with the resolvers that answer it from the store.

It covers what the official SDKs' test helpers read: a run's status, output, trigger events and
step trace (``run``, ``runTrigger``, ``runTraceSpanOutputByID``), and an event with its runs
(``event``, ``eventV2``). Names, types and nullability follow Inngest's schema, so a query
written for the Inngest dev server runs here unchanged as long as it asks only for these fields.

Every object is a view from ``gql_views`` (a dict keyed by GraphQL field names), so
graphql-core's default resolver answers its scalar fields; fields that need another read (a
run's trace, an event's runs) have resolvers bound below, which find the record the view was
built from under ``RECORD``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema, build_schema

from outlast.domain import EventRecord, FunctionRecord, RunRecord, StepRecord
from outlast.protocol.ops import Opcode
from outlast.server.gql_views import (
    RECORD,
    SEP,
    View,
    event_status,
    event_v1,
    event_v2,
    function_view,
    has_output,
    root_span,
    run_span_output,
    run_v1,
    run_v2,
    step_output,
    trigger_view,
)
from outlast.store import Session, Store

SDL = """
"An instant, as an RFC 3339 string (UTC, milliseconds)."
scalar Time
scalar ULID
scalar UUID
"JSON, as a string."
scalar Bytes

type Query {
  "A run, or null when there is none with this id."
  run(runID: String!): FunctionRunV2
  "The events that started a run."
  runTrigger(runID: String!): RunTraceTrigger!
  "A run's trace: the run, with one child span per step."
  runTrace(runID: String!): RunTraceSpan!
  "The output of a span (a step or the run), by the span's outputID."
  runTraceSpanOutputByID(outputID: String!): RunTraceSpanOutput!
  "An event by its internal id, or null when there is none."
  event(query: EventQuery!): Event
  eventV2(id: ULID!): EventV2!
  functionRun(query: FunctionRunQuery!): FunctionRun
}

input EventQuery {
  workspaceId: ID! = "local"
  eventId: ID!
}

input FunctionRunQuery {
  workspaceId: ID! = "local"
  functionRunId: ID!
}

enum FunctionRunStatus {
  COMPLETED
  FAILED
  CANCELLED
  RUNNING
  QUEUED
}

enum EventStatus {
  RUNNING
  COMPLETED
  PAUSED
  FAILED
  PARTIALLY_FAILED
  NO_FUNCTIONS
}

enum RunTraceSpanStatus {
  FAILED
  QUEUED
  RUNNING
  COMPLETED
  WAITING
  CANCELLED
}

enum StepOp {
  INVOKE
  RUN
  SLEEP
  WAIT_FOR_EVENT
  AI_GATEWAY
}

type Function {
  id: String!
  name: String!
  slug: String!
  config: String!
  appID: String!
}

type Event {
  id: ULID!
  externalID: String
  name: String
  createdAt: Time
  "The event's data, as JSON."
  payload: String
  status: EventStatus
  pendingRuns: Int
  totalRuns: Int
  "The whole event as sent to functions, as JSON."
  raw: String
  functionRuns: [FunctionRun!]
}

type EventSource {
  id: ID!
  name: String
  sourceKind: String!
}

type EventV2 {
  id: ULID!
  name: String!
  "The id the sender gave the event, if any."
  idempotencyKey: String
  occurredAt: Time!
  receivedAt: Time!
  raw: String!
  version: String
  source: EventSource
  runs: [FunctionRunV2!]!
}

type FunctionRun {
  id: ID!
  functionID: String!
  function: Function
  event: Event
  events: [Event!]!
  status: FunctionRunStatus
  startedAt: Time
  finishedAt: Time
  "The run's output as JSON; for a failed run, its error."
  output: String
  eventID: ID!
  batchID: ULID
  cron: String
}

type FunctionRunV2 {
  id: ULID!
  appID: UUID!
  functionID: UUID!
  function: Function!
  traceID: String!
  queuedAt: Time!
  startedAt: Time
  endedAt: Time
  status: FunctionRunStatus!
  "The run that invoked this one, if any."
  sourceID: String
  triggerIDs: [ULID!]!
  eventName: String
  isBatch: Boolean!
  batchCreatedAt: Time
  cronSchedule: String
  "The run's output as JSON; for a failed run, its error."
  output: Bytes
  trace(preview: Boolean): RunTraceSpan
  hasAI: Boolean!
}

type RunTraceSpan {
  appID: UUID!
  functionID: UUID!
  runID: ULID!
  run: FunctionRun!
  spanID: String!
  traceID: String!
  "The run's function name for the root span, the step's id for a step."
  name: String!
  status: RunTraceSpanStatus!
  attempts: Int
  "Milliseconds; null while the span has not ended."
  duration: Int
  "Give it to runTraceSpanOutputByID; null while there is no output."
  outputID: String
  queuedAt: Time!
  startedAt: Time
  endedAt: Time
  childrenSpans: [RunTraceSpan!]!
  stepOp: StepOp
  "The step's hashed id."
  stepID: String
  isRoot: Boolean!
  parentSpanID: String
  isUserland: Boolean!
}

type RunTraceSpanOutput {
  "The output as JSON, or null when the span failed."
  data: Bytes
  error: StepError
}

type StepError {
  message: String!
  name: String
  stack: String
}

type RunTraceTrigger {
  eventName: String
  IDs: [ULID!]!
  "Each event, as JSON."
  payloads: [Bytes!]!
  timestamp: Time!
  isBatch: Boolean!
  batchID: ULID
  cron: String
}
"""


Resolver = Callable[..., Any]
T = TypeVar("T")


class Loader:
    """One request's reads. graphql-core resolves sibling fields concurrently, so each read
    opens its own store session (a session is one connection), and a read asked for twice
    (an event's runs, for its status and its run list) is shared, not repeated."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reads: dict[tuple[str, str], asyncio.Future[Any]] = {}

    async def _once(self, key: tuple[str, str], read: Callable[[Session], Awaitable[T]]) -> T:
        async def load() -> T:
            async with self.store.read() as session:
                return await read(session)

        if key not in self._reads:
            self._reads[key] = asyncio.ensure_future(load())
        result: T = await self._reads[key]
        return result

    async def run(self, run_id: str) -> RunRecord | None:
        if not _storable(run_id):
            return None
        return await self._once(("run", run_id), lambda r: r.get_run(run_id))

    async def steps(self, run_id: str) -> list[StepRecord]:
        return await self._once(("steps", run_id), lambda r: r.list_steps(run_id))

    async def event(self, internal_id: str) -> EventRecord | None:
        if not _storable(internal_id):
            return None
        return await self._once(("event", internal_id), lambda r: r.get_event(internal_id))

    async def runs_for_event(self, internal_id: str) -> list[RunRecord]:
        if not _storable(internal_id):
            return []
        return await self._once(("runs", internal_id), lambda r: r.runs_for_event(internal_id))

    async def function(self, function_id: str) -> FunctionRecord | None:
        functions = await self._once(("functions", ""), lambda r: r.list_functions())
        return next((f for f in functions if f.id == function_id), None)


def _storable(value: str) -> bool:
    # An id never holds NUL, and PostgreSQL text cannot: such an id is simply not found.
    return "\x00" not in value


#: What a resolver is given: the request's ``Loader`` is its context.
Info: TypeAlias = "GraphQLResolveInfo[Loader]"


# -- resolvers ---------------------------------------------------------------------------------


def _not_found(what: str, value: str) -> GraphQLError:
    return GraphQLError(f"{what} not found: {value[:100]!r}")


async def q_run(_: None, info: Info, runID: str) -> View | None:
    run = await info.context.run(runID)
    return run_v2(run) if run else None


async def _must_run(info: Info, run_id: str) -> RunRecord:
    run = await info.context.run(run_id)
    if run is None:
        raise _not_found("run", run_id)
    return run


async def q_run_trigger(_: None, info: Info, runID: str) -> View:
    return trigger_view(await _must_run(info, runID))


async def _trace(info: Info, run: RunRecord) -> View:
    loader = info.context
    return root_span(run, await loader.function(run.function_id), await loader.steps(run.id))


async def q_run_trace(_: None, info: Info, runID: str) -> View:
    return await _trace(info, await _must_run(info, runID))


async def q_span_output(_: None, info: Info, outputID: str) -> View:
    run_id, _sep, step_hash = outputID.partition(SEP)
    run = await info.context.run(run_id)
    if run is None:
        raise _not_found("output", outputID)
    if not step_hash:
        return run_span_output(run)
    for step in await info.context.steps(run.id):
        if step.hash == step_hash and has_output(step):
            return step_output(step)
    raise _not_found("output", outputID)


async def q_event(_: None, info: Info, query: dict[str, Any]) -> View | None:
    event = await info.context.event(str(query["eventId"]))
    return event_v1(event) if event else None


async def q_event_v2(_: None, info: Info, id: Any) -> View:
    event = await info.context.event(str(id))
    if event is None:
        raise _not_found("event", str(id))
    return event_v2(event)


async def q_function_run(_: None, info: Info, query: dict[str, Any]) -> View | None:
    run = await info.context.run(str(query["functionRunId"]))
    return run_v1(run) if run else None


async def _event_runs(parent: View, info: Info) -> list[RunRecord]:
    event: EventRecord = parent[RECORD]
    runs = await info.context.runs_for_event(event.internal_id)
    return sorted(runs, key=lambda run: run.id, reverse=True)  # newest first, as Inngest


async def event_function_runs(parent: View, info: Info) -> list[View]:
    return [run_v1(run) for run in await _event_runs(parent, info)]


async def event_status_field(parent: View, info: Info) -> str:
    return event_status(await _event_runs(parent, info))


async def event_pending_runs(parent: View, info: Info) -> int:
    return sum(1 for run in await _event_runs(parent, info) if not run.status.finished)


async def event_total_runs(parent: View, info: Info) -> int:
    return len(await _event_runs(parent, info))


async def event_v2_runs(parent: View, info: Info) -> list[View]:
    return [run_v2(run) for run in await _event_runs(parent, info)]


async def run_function(parent: View, info: Info) -> View:
    run: RunRecord = parent[RECORD]
    return function_view(run.function_id, await info.context.function(run.function_id))


async def run_app_id(parent: View, info: Info) -> str:
    run: RunRecord = parent[RECORD]
    function = await info.context.function(run.function_id)
    return function.app_id if function else ""


async def run_trace(
    parent: View,
    info: Info,
    preview: bool | None = None,  # Inngest's UI asks for a preview; there is only one trace
) -> View:
    return await _trace(info, parent[RECORD])


async def run_has_ai(parent: View, info: Info) -> bool:
    run: RunRecord = parent[RECORD]
    steps = await info.context.steps(run.id)
    return any(step.op == Opcode.AI_GATEWAY.value for step in steps)


async def run_event(parent: View, info: Info) -> View | None:
    run: RunRecord = parent[RECORD]
    event = await info.context.event(run.event_id) if run.event_id else None
    return event_v1(event) if event else None


async def run_events(parent: View, info: Info) -> list[View]:
    # Runs keep their events' payloads; the stored event is the trigger (no batches yet).
    single = await run_event(parent, info)
    return [single] if single else []


def span_run(parent: View, info: Info) -> View:
    return run_v1(parent[RECORD])


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Query": {
        "run": q_run,
        "runTrigger": q_run_trigger,
        "runTrace": q_run_trace,
        "runTraceSpanOutputByID": q_span_output,
        "event": q_event,
        "eventV2": q_event_v2,
        "functionRun": q_function_run,
    },
    "Event": {
        "functionRuns": event_function_runs,
        "status": event_status_field,
        "pendingRuns": event_pending_runs,
        "totalRuns": event_total_runs,
    },
    "EventV2": {"runs": event_v2_runs},
    "FunctionRun": {"function": run_function, "event": run_event, "events": run_events},
    "FunctionRunV2": {
        "function": run_function,
        "appID": run_app_id,
        "trace": run_trace,
        "hasAI": run_has_ai,
    },
    "RunTraceSpan": {"run": span_run},
}


def build() -> GraphQLSchema:
    """The schema, with the resolvers bound to its fields."""
    schema = build_schema(SDL)
    for type_name, fields in RESOLVERS.items():
        gql_type = schema.type_map[type_name]
        assert isinstance(gql_type, GraphQLObjectType), type_name
        for field_name, resolver in fields.items():
            gql_type.fields[field_name].resolve = resolver
    return schema


SCHEMA = build()
