"""The REST API: ``/v1`` (events, runs, cancel) and the ``/v0`` run-state routes the SDKs
call when a run's state is too large to send (``use_api``). Bulk cancellation is in
``cancellations``. The data comes from ``reads``, as the dashboard's does; this module
shapes it as JSON. In start mode it wants the signing key or the dashboard key (Bearer),
or a dashboard session (``auth.api_key_problem``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from outlast.domain import EventRecord, RunRecord, RunStatus, StepRecord
from outlast.engine import gateway, manage
from outlast.engine.runtime import Engine
from outlast.server import actions, reads
from outlast.server.auth import api_key_problem
from outlast.server.responses import envelope, error, iso, json_response
from outlast.server.settings import ServerSettings

MAX_PAGE = 1000


def event_json(e: EventRecord) -> dict[str, Any]:
    return {**e.payload, "internal_id": e.internal_id, "received_at": iso(e.received_at)}


def run_json(run: RunRecord, original_run_id: str | None = None) -> dict[str, Any]:
    cron = None
    if run.events and run.events[0].get("name") == "inngest/scheduled.timer":
        cron = run.events[0].get("data", {}).get("cron")
    return {
        "run_id": run.id,
        "function_id": run.function_id,
        "status": run.status.api_name,
        "event_id": run.event_id,
        "batch_id": run.batch_id,
        "original_run_id": original_run_id,
        "cron": cron,
        "queued_at": iso(run.queued_at),
        # A delayed start (the event's ``ts`` in the future): when the run is due to start.
        "scheduled_at": iso(run.scheduled_at),
        "run_started_at": iso(run.started_at or run.queued_at),
        "ended_at": iso(run.ended_at),
        # As Inngest does, a failed run's output is its error.
        "output": run.error if run.status is RunStatus.FAILED else run.output,
        "error": run.error,
    }


def step_json(step: StepRecord) -> dict[str, Any]:
    memo = step.memo if isinstance(step.memo, dict) else {}
    duration = None
    if step.ended_at is not None and step.started_at is not None:
        duration = step.ended_at - step.started_at
    return {
        "id": step.hash,
        "name": step.name,
        "op": step.op,
        "status": step.status.value,
        "attempts": step.attempts,
        "output": memo.get("data") if "data" in memo else (step.memo if step.done else None),
        "error": step.error,
        "scheduled_at": iso(step.scheduled_at),
        "started_at": iso(step.started_at),
        "ended_at": iso(step.ended_at),
        "duration_ms": duration,
        # step.ai.infer: the tokens the provider says it used.
        "ai_usage": gateway.step_usage(step),
    }


async def _checked(request: Request) -> Response | None:
    """A 401 without the right key or session (start mode), a 400 for NUL bytes, else None."""
    settings: ServerSettings = request.app.state.settings
    denied = await api_key_problem(request, settings, request.app.state.engine.store)
    if denied is not None:
        return error(denied.message, denied.status)
    # Valid in a URL, but no id or name holds one, and PostgreSQL text cannot.
    params = [*request.path_params.values(), *request.query_params.values()]
    if any("\x00" in str(v) for v in params):
        return error("URL parameters must not contain NUL characters", 400)
    return None


def api(
    handler: Callable[[Request, Engine], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint of this API: checks the request, then calls ``handler(request, engine)``."""

    async def endpoint(request: Request) -> Response:
        problem = await _checked(request)
        if problem is not None:
            return problem
        return await handler(request, request.app.state.engine)

    endpoint.__name__ = handler.__name__
    return endpoint


def _limit(request: Request) -> int | Response:
    raw = request.query_params.get("limit", "50")
    # isdigit() alone admits "²", which int() refuses; a long string cannot be in range.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= MAX_PAGE:
        return error(f"limit must be a whole number from 1 to {MAX_PAGE}, got {raw[:20]!r}", 400)
    return int(raw)


def _status(request: Request) -> RunStatus | Response | None:
    raw = request.query_params.get("status")
    if not raw:
        return None
    try:
        return RunStatus(raw.lower())
    except ValueError:
        known = ", ".join(st.value.capitalize() for st in RunStatus)
        return error(f"unknown run status {raw[:40]!r}; expected one of {known}", 400)


RUN_NOT_FOUND = actions.RUN_NOT_FOUND


def runs_json(views: list[reads.RunView]) -> list[dict[str, Any]]:
    """Runs as the API shows them, each rerun with the run it was started from."""
    return [run_json(v.run, v.original_run_id) for v in views]


@api
async def list_events(request: Request, engine: Engine) -> Response:
    limit = _limit(request)
    if isinstance(limit, Response):
        return limit
    events = await reads.list_events(
        engine.store,
        name=request.query_params.get("name"),
        before=request.query_params.get("cursor"),
        limit=limit,
    )
    return envelope([event_json(e) for e in events])


@api
async def get_event(request: Request, engine: Engine) -> Response:
    event = await reads.get_event(engine.store, request.path_params["event_id"])
    if event is None:
        return error("event not found", 404)
    return envelope(event_json(event))


@api
async def event_runs(request: Request, engine: Engine) -> Response:
    views = await reads.event_runs(engine.store, request.path_params["event_id"])
    if views is None:
        return error("event not found", 404)
    return envelope(runs_json(views))


@api
async def list_runs(request: Request, engine: Engine) -> Response:
    limit = _limit(request)
    if isinstance(limit, Response):
        return limit
    status = _status(request)
    if isinstance(status, Response):
        return status
    where = reads.RunFilter(function_id=request.query_params.get("function_id"), status=status)
    views = await reads.list_runs(
        engine.store, where, before=request.query_params.get("cursor"), limit=limit
    )
    return envelope(runs_json(views))


@api
async def get_run(request: Request, engine: Engine) -> Response:
    detail = await reads.get_run(engine.store, request.path_params["run_id"])
    if detail is None:
        return error(RUN_NOT_FOUND, 404)
    found = run_json(detail.run, detail.original_run_id)
    return envelope({**found, "steps": [step_json(s) for s in detail.steps]})


@api
async def cancel_run(request: Request, engine: Engine) -> Response:
    try:
        run = await actions.cancel(engine, request.path_params["run_id"])
    except manage.NotFound as exc:
        return error(exc.message, 404)
    except manage.ManageError as exc:
        return error(exc.message, 409)
    return envelope(run_json(run))


@api
async def run_batch(request: Request, engine: Engine) -> Response:
    """A run's events, for a ``use_api`` request: the bare JSON list of event payloads,
    exactly what ``events`` holds inline (inngest-py and inngest-js refuse anything but an
    array; errors are ``{"error", "status"}``, the shape inngest-js parses)."""
    async with engine.store.read() as r:
        run = await r.get_run(request.path_params["run_id"])
    if run is None:
        return error(RUN_NOT_FOUND, 404)
    return json_response(run.events)


@api
async def run_actions(request: Request, engine: Engine) -> Response:
    """A run's memos, for a ``use_api`` request: the bare JSON object of step hash -> memo
    (``{"data": X}``, ``{"error": E}``, or a raw event for a wait), exactly what ``steps``
    holds inline; the SDKs decode it with the same code."""
    async with engine.store.read() as r:
        run = await r.get_run(request.path_params["run_id"])
        memos = await r.load_memos(run.id) if run else {}
    if run is None:
        return error(RUN_NOT_FOUND, 404)
    return json_response(memos)
