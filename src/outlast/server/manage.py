"""Run management in the REST API: pause / resume / invoke a function, replay events, rerun
a run.

``POST /v1/functions/{function_id}/pause|resume|invoke|replay``,
``POST /v1/events/{event_id}/replay`` and ``POST /v1/runs/{run_id}/rerun``; the logic is in
``engine.manage``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from outlast.domain import FunctionRecord
from outlast.engine import manage
from outlast.engine.runtime import Engine
from outlast.protocol import jsonutil
from outlast.protocol.ids import now_ms
from outlast.server.responses import (
    BodyTooLarge,
    date_ms,
    envelope,
    error,
    iso,
    json_type,
    read_body,
)
from outlast.server.rest import api
from outlast.server.settings import ServerSettings

MAX_BODY = 16 * 1024
_STATUS: dict[type[manage.ManageError], int] = {
    manage.NotFound: 404,
    manage.Invalid: 400,
    manage.Conflict: 409,
}


def _problem(exc: manage.ManageError) -> Response:
    return error(exc.message, _STATUS.get(type(exc), 400))


async def _body(
    request: Request, fields: tuple[str, ...], limit: int = MAX_BODY
) -> dict[str, Any] | Response:
    """The JSON object sent (``{}`` for an empty body), or a 4xx refusing it."""
    try:
        raw = await read_body(request, limit)
    except BodyTooLarge:
        return error(f"request body is larger than {limit} bytes", 413)
    if not raw.strip():
        return {}
    try:
        body = jsonutil.loads(raw)
    except ValueError:
        return error("request body is not valid JSON", 400)
    if not isinstance(body, dict):
        return error(f"request body must be a JSON object, got {json_type(body)}", 400)
    unknown = sorted(set(body) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        return error(
            f"unknown field(s) {', '.join(map(repr, unknown))}; the fields are {known}", 400
        )
    return body


async def _function_id(request: Request, engine: Engine) -> str | Response:
    """The stored id the path names (``?app_id=`` selects an app for an app-local id)."""
    app_id = request.query_params.get("app_id")
    if app_id is not None and not app_id.strip():
        return error("app_id must not be empty (leave it out, or give the app's id)", 400)
    async with engine.store.read() as r:
        functions = await r.list_functions()
    try:
        return manage.resolve_function(functions, request.path_params["function_id"], app_id)
    except manage.ManageError as exc:
        return _problem(exc)


def _function_json(record: FunctionRecord) -> dict[str, Any]:
    return {
        "function_id": record.id,
        "app_id": record.app_id,
        "name": record.name,
        "paused": record.paused,
    }


async def _set_paused(request: Request, engine: Engine, paused: bool) -> Response:
    function_id = await _function_id(request, engine)
    if isinstance(function_id, Response):
        return function_id
    try:
        record = await engine.set_paused(function_id, paused)
    except manage.ManageError as exc:
        return _problem(exc)
    return envelope(_function_json(record))


@api
async def pause_function(request: Request, engine: Engine) -> Response:
    """Stop new runs of the function (its events are still stored); idempotent."""
    return await _set_paused(request, engine, True)


@api
async def resume_function(request: Request, engine: Engine) -> Response:
    """Let the function start runs again; idempotent."""
    return await _set_paused(request, engine, False)


@api
async def invoke_function(request: Request, engine: Engine) -> Response:
    """``{"data"?}``: start a run of the function now, its event
    ``inngest/function.invoked`` carrying ``data`` (an object)."""
    function_id = await _function_id(request, engine)
    if isinstance(function_id, Response):
        return function_id
    settings: ServerSettings = request.app.state.settings
    body = await _body(request, ("data",), settings.max_event_bytes)
    if isinstance(body, Response):
        return body
    data = body.get("data", {})
    if not isinstance(data, dict):
        return error(f"data must be a JSON object, got {json_type(data)}", 400)
    try:
        run = await engine.invoke(function_id, data, settings.max_event_bytes)
    except manage.ManageError as exc:
        return _problem(exc)
    return envelope({"run_id": run.id, "function_id": function_id, "event_id": run.event_id})


@api
async def replay_function(request: Request, engine: Engine) -> Response:
    """``{"from", "to"?}``: start runs of the function for its events received in
    ``[from, to)`` (``to`` defaults to now) that started no run of it, at most
    ``MAX_REPLAY`` (``capped`` says the limit stopped it: call again for the rest)."""
    function_id = await _function_id(request, engine)
    if isinstance(function_id, Response):
        return function_id
    body = await _body(request, ("from", "to"))
    if isinstance(body, Response):
        return body
    since = date_ms(body, "from")
    if isinstance(since, str):
        return error(since, 400)
    until: int | str = date_ms(body, "to") if "to" in body else now_ms()
    if isinstance(until, str):
        return error(until, 400)
    if since >= until:
        return error("from must be earlier than to", 400)
    try:
        runs, capped = await engine.replay_function(function_id, since, until)
    except manage.ManageError as exc:
        return _problem(exc)
    return envelope(
        {
            "function_id": function_id,
            "from": iso(since),
            "to": iso(until),
            "run_ids": [run.id for run in runs],
            "count": len(runs),
            "limit": manage.MAX_REPLAY,
            # The replayed events now have runs: calling again replays the next ones.
            "capped": capped,
        }
    )


@api
async def replay_event(request: Request, engine: Engine) -> Response:
    """Start a new run of every function the event triggers now."""
    event_id = request.path_params["event_id"]
    try:
        runs = await engine.replay_event(event_id)
    except manage.ManageError as exc:
        return _problem(exc)
    return envelope({"event_id": event_id, "run_ids": [run.id for run in runs]})


@api
async def rerun_run(request: Request, engine: Engine) -> Response:
    """``{"from_step"?}``: a new run of the run's function with the same events, from
    scratch or keeping the memos of the steps that finished before ``from_step``."""
    body = await _body(request, ("from_step",))
    if isinstance(body, Response):
        return body
    from_step = body.get("from_step")
    if from_step is not None and (not isinstance(from_step, str) or not from_step.strip()):
        return error("from_step must be a step's id (or name) from GET /v1/runs/{run_id}", 400)
    try:
        result = await engine.rerun(request.path_params["run_id"], from_step)
    except manage.ManageError as exc:
        return _problem(exc)
    return envelope(
        {
            "run_id": result.run.id,
            "function_id": result.run.function_id,
            "original_run_id": result.original.id,
            "from_step": result.from_step,
            "kept_steps": result.kept,
        }
    )
