"""What ``POST /v0/gql`` answers, as plain data: store records turned into the objects of
Inngest's GraphQL schema (dicts keyed by GraphQL field names, as the REST views in ``rest.py``).

Pure functions of the records, so the shapes (statuses, JSON strings, trace spans, step
outputs) can be tested without a server; the resolvers in ``gql_schema`` do the reading.
"""

from __future__ import annotations

from typing import Any

from outlast.domain import EventRecord, FunctionRecord, RunRecord, RunStatus, StepRecord, StepStatus
from outlast.protocol import jsonutil
from outlast.protocol.ops import EVENT_CRON, Opcode
from outlast.server.responses import iso

#: Where a view keeps the record it was built from ("__" names cannot be GraphQL fields).
RECORD = "__record"

View = dict[str, Any]

RUN_STATUS = {
    RunStatus.QUEUED: "QUEUED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.COMPLETED: "COMPLETED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELLED: "CANCELLED",
}

SPAN_STATUS = {
    StepStatus.PLANNED: "QUEUED",
    StepStatus.RUNNING: "RUNNING",
    StepStatus.SLEEPING: "WAITING",
    StepStatus.WAITING: "WAITING",
    StepStatus.INVOKING: "WAITING",
    StepStatus.COMPLETED: "COMPLETED",
    StepStatus.FAILED: "FAILED",
}

#: Keyed by the op a step record holds (Opcode is a StrEnum, so its members are those strings).
STEP_OP: dict[str, str] = {
    Opcode.STEP_RUN: "RUN",
    Opcode.STEP: "RUN",
    Opcode.STEP_PLANNED: "RUN",
    Opcode.STEP_ERROR: "RUN",
    Opcode.STEP_FAILED: "RUN",
    Opcode.SLEEP: "SLEEP",
    Opcode.WAIT_FOR_EVENT: "WAIT_FOR_EVENT",
    Opcode.INVOKE: "INVOKE",
    Opcode.AI_GATEWAY: "AI_GATEWAY",
}


def _json(value: Any) -> str:
    return jsonutil.dumps_str(value)


# -- views: records as GraphQL objects ---------------------------------------------------------


def run_output(run: RunRecord) -> str | None:
    """As Inngest does: the output of a finished run as JSON, its error if it failed."""
    if run.status is RunStatus.COMPLETED:
        return _json(run.output)
    if run.status.finished and run.error is not None:
        return _json(run.error)
    return None


def _cron(run: RunRecord) -> str | None:
    if run.events and run.events[0].get("name") == EVENT_CRON:
        cron = (run.events[0].get("data") or {}).get("cron")
        return str(cron) if cron is not None else None
    return None


def run_v1(run: RunRecord) -> View:
    return {
        RECORD: run,
        "id": run.id,
        "functionID": run.function_id,
        "status": RUN_STATUS[run.status],
        "startedAt": iso(run.started_at),
        "finishedAt": iso(run.ended_at),
        "output": run_output(run),
        "eventID": run.event_id or "",
        "batchID": None,
        "cron": _cron(run),
    }


def run_v2(run: RunRecord) -> View:
    return {
        RECORD: run,
        "id": run.id,
        "functionID": run.function_id,
        "traceID": run.id,
        "queuedAt": iso(run.queued_at),
        "startedAt": iso(run.started_at),
        "endedAt": iso(run.ended_at),
        "status": RUN_STATUS[run.status],
        "sourceID": (run.parent or {}).get("run_id"),
        "triggerIDs": [run.event_id] if run.event_id else [],
        "eventName": run.events[0].get("name") if run.events else None,
        "isBatch": len(run.events) > 1,
        "batchCreatedAt": None,
        "cronSchedule": _cron(run),
        "output": run_output(run),
    }


def function_view(function_id: str, record: FunctionRecord | None) -> View:
    """A function; one removed since its runs keeps its id as its name."""
    return {
        "id": function_id,
        "slug": function_id,
        "name": record.name if record else function_id,
        "config": _json(record.config if record else {}),
        "appID": record.app_id if record else "",
    }


def event_status(runs: list[RunRecord]) -> str:
    if not runs:
        return "NO_FUNCTIONS"
    failed = sum(1 for run in runs if run.status is RunStatus.FAILED)
    if failed:
        return "FAILED" if failed == len(runs) else "PARTIALLY_FAILED"
    if any(not run.status.finished for run in runs):
        return "RUNNING"
    return "COMPLETED"


def event_v1(event: EventRecord) -> View:
    return {
        RECORD: event,
        "id": event.internal_id,
        "externalID": event.payload.get("id"),
        "name": event.name,
        "createdAt": iso(event.received_at),
        "payload": _json(event.payload.get("data") or {}),
        "raw": _json(event.payload),
    }


def event_v2(event: EventRecord) -> View:
    external = event.payload.get("id")
    version = event.payload.get("v")
    return {
        RECORD: event,
        "id": event.internal_id,
        "name": event.name,
        # As Inngest: the event's id (its producer's, else the one the server gave it).
        "idempotencyKey": str(external or event.internal_id),
        "occurredAt": iso(event.ts),
        "receivedAt": iso(event.received_at),
        # The shape Inngest gives (the event as its producer sent it, without ``user``).
        "raw": _json(
            {
                "data": event.payload.get("data") or {},
                "id": event.id,
                "name": event.name,
                "ts": event.ts,
                "v": version if version else None,
            }
        ),
        "version": version if version else None,
        "source": None,
    }


def trigger_view(run: RunRecord) -> View:
    first = run.events[0] if run.events else {}
    ts = first.get("ts")
    return {
        "eventName": first.get("name"),
        "IDs": [run.event_id] if run.event_id else [],
        "payloads": [_json(e) for e in run.events],
        "timestamp": iso(ts if isinstance(ts, int) else run.queued_at),
        "isBatch": len(run.events) > 1,
        "batchID": None,
        "cron": _cron(run),
    }


# -- trace spans and their outputs -------------------------------------------------------------

#: outputID of a step: "<run id>:<step hash>"; the run's own output is just "<run id>".
SEP = ":"


def _duration(start: int | None, end: int | None) -> int | None:
    return end - start if start is not None and end is not None else None


def has_output(step: StepRecord) -> bool:
    # A sleep has nothing to show; a step being retried shows its last error.
    return step.error is not None or (step.done and step.op != Opcode.SLEEP.value)


def step_span(run: RunRecord, step: StepRecord, app_id: str) -> View:
    span_id = f"{run.id}{SEP}{step.hash}"
    # A step run inline is recorded when it ends, so its start can come before its "schedule".
    known = [t for t in (step.scheduled_at, step.started_at) if t is not None]
    status = SPAN_STATUS[step.status]
    if run.status.finished and not step.done:
        status = "CANCELLED"  # the run ended around it
    return {
        RECORD: run,
        "appID": app_id,
        "functionID": run.function_id,
        "runID": run.id,
        "spanID": span_id,
        "traceID": run.id,
        "name": step.name or step.hash,
        "status": status,
        "attempts": step.attempts,
        "duration": _duration(step.started_at, step.ended_at),
        "outputID": span_id if has_output(step) else None,
        "queuedAt": iso(min(known) if known else run.queued_at),
        "startedAt": iso(step.started_at),
        "endedAt": iso(step.ended_at),
        "childrenSpans": [],
        "stepOp": STEP_OP.get(step.op),
        "stepID": step.hash,
        "isRoot": False,
        "parentSpanID": run.id,
        "isUserland": False,
    }


def root_span(run: RunRecord, function: FunctionRecord | None, steps: list[StepRecord]) -> View:
    app_id = function.app_id if function else ""
    return {
        RECORD: run,
        "appID": app_id,
        "functionID": run.function_id,
        "runID": run.id,
        "spanID": run.id,
        "traceID": run.id,
        "name": function.name if function else run.function_id,
        "status": RUN_STATUS[run.status],
        "attempts": None,
        "duration": _duration(run.started_at, run.ended_at),
        "outputID": run.id if run.status.finished else None,
        "queuedAt": iso(run.queued_at),
        "startedAt": iso(run.started_at),
        "endedAt": iso(run.ended_at),
        "childrenSpans": [step_span(run, step, app_id) for step in steps],
        "stepOp": None,
        "stepID": None,
        "isRoot": True,
        "parentSpanID": None,
        "isUserland": False,
    }


def error_view(error: Any) -> View:
    if not isinstance(error, dict):
        return {"message": str(error), "name": None, "stack": None}
    stack = error.get("stack")
    return {
        "message": str(error.get("message") or ""),
        "name": str(error["name"]) if error.get("name") is not None else None,
        "stack": str(stack) if stack is not None else None,
    }


def step_output(step: StepRecord) -> View:
    """A step's memo as Inngest shows it: ``{"data": X}`` → data X, ``{"error": E}`` → error E."""
    memo = step.memo
    if isinstance(memo, dict) and set(memo) == {"data"}:
        return {"data": _json(memo["data"]), "error": None}
    if isinstance(memo, dict) and set(memo) == {"error"}:
        return {"data": None, "error": error_view(memo["error"])}
    if not step.done:  # being retried: its last error
        return {"data": None, "error": error_view(step.error)}
    return {"data": _json(memo), "error": None}  # a received event, or null on a timeout


def run_span_output(run: RunRecord) -> View:
    if run.status is RunStatus.COMPLETED:
        return {"data": _json(run.output), "error": None}
    if run.error is not None:
        return {"data": None, "error": error_view(run.error)}
    return {"data": None, "error": None}
