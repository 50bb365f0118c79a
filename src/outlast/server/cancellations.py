"""``POST /v1/cancellations``: cancel many runs of a function at once (Inngest's bulk
cancellation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from outlast.domain import FunctionRecord
from outlast.engine.expressions import Expression, ExpressionError, compile_expression
from outlast.engine.runtime import Engine
from outlast.protocol import ids
from outlast.server.responses import BadBody, date_ms, error, json_response, json_type, read_json
from outlast.server.rest import api

#: The fields of ``POST /v1/cancellations`` (Inngest's shape). Anything else is refused
#: rather than ignored: a misspelt ``if`` would silently widen what gets cancelled.
CANCELLATION_FIELDS = ("app_id", "function_id", "started_after", "started_before", "if")
MAX_CANCELLATION_BODY = 64 * 1024
#: Runs read (and cancelled, one transaction each) per round.
CANCEL_PAGE = 500


@dataclass(frozen=True, slots=True)
class BulkCancel:
    app_id: str | None
    function_id: str
    started_after: str
    started_before: str
    after_ms: int
    before_ms: int
    condition: Expression | None


def _parse_cancellation(body: Any) -> BulkCancel | str:
    """The request, or the reason it is refused (a 400)."""
    if not isinstance(body, dict):
        return f"request body must be a JSON object, got {json_type(body)}"
    unknown = sorted(set(body) - set(CANCELLATION_FIELDS))
    if unknown:
        known = ", ".join(CANCELLATION_FIELDS)
        return f"unknown field(s) {', '.join(map(repr, unknown))}; the fields are {known}"
    app_id, function_id = body.get("app_id"), body.get("function_id")
    if app_id is not None and (not isinstance(app_id, str) or not app_id.strip()):
        return "app_id must be a non-empty string (the app's id)"
    if not isinstance(function_id, str) or not function_id.strip():
        return "function_id is required: the function's id"
    after, before = date_ms(body, "started_after"), date_ms(body, "started_before")
    if isinstance(after, str):
        return after
    if isinstance(before, str):
        return before
    if after >= before:
        return "started_after must be earlier than started_before"
    condition: Expression | None = None
    source = body.get("if")
    if source is not None:
        # A blank filter is refused, not read as "everything": this call is destructive.
        if not isinstance(source, str) or not source.strip():
            return "if must be a non-empty CEL expression over event, or be left out"
        try:
            condition = compile_expression(source)
        except ExpressionError as exc:
            return f"if: {exc}"
    return BulkCancel(
        app_id=app_id,
        function_id=function_id,
        started_after=body["started_after"],
        started_before=body["started_before"],
        after_ms=after,
        before_ms=before,
        condition=condition,
    )


def _function_of(functions: list[FunctionRecord], app_id: str | None, fn_id: str) -> str | None:
    """The stored function meant: Inngest's ``app_id`` + ``function_id`` (the SDK's id), or
    the full id alone (``<app>-<fn>``, as ``/v1/runs`` shows it), with or without app_id."""
    known = {f.id: f.app_id for f in functions}
    if app_id is not None and f"{app_id}-{fn_id}" in known:
        return f"{app_id}-{fn_id}"
    if fn_id in known and (app_id is None or known[fn_id] == app_id):
        return fn_id
    return None


@api
async def create_cancellation(request: Request, engine: Engine) -> Response:
    """``POST /v1/cancellations``: cancel a function's unfinished runs that started in
    ``(started_after, started_before)`` and whose trigger event matches ``if``."""
    try:
        body = await read_json(request, MAX_CANCELLATION_BODY)
    except BadBody as exc:
        return error(exc.message, exc.status)
    req = _parse_cancellation(body)
    if isinstance(req, str):
        return error(req, 400)
    async with engine.store.read() as r:
        function_id = _function_of(await r.list_functions(), req.app_id, req.function_id)
    if function_id is None:
        where = f" in app {req.app_id!r}" if req.app_id else ""
        return error(f"function {req.function_id!r} not found{where}", 404)
    cancellation_id = ids.new_ulid()
    reason = f"cancelled by bulk cancellation {cancellation_id}"
    cancelled, cursor = 0, ""
    while True:
        # "Started" is when the run was created (its id's time), as in Inngest: a run still
        # waiting in the backlog, the usual target of a bulk cancel, has not been called yet.
        async with engine.store.read() as r:
            page = await r.unfinished_runs(
                function_id,
                queued_after=req.after_ms,
                queued_before=req.before_ms,
                after_id=cursor,
                limit=CANCEL_PAGE,
            )
        for run in page:
            event = run.events[0] if run.events else {}
            if req.condition is None or req.condition.matches({"event": event}):
                # False when the run finished meanwhile: it is not counted.
                cancelled += await engine.cancel_run(run.id, reason=reason)
        if len(page) < CANCEL_PAGE:
            break
        cursor = page[-1].id
    return json_response(
        {
            # Inngest's cancellation object (not wrapped in "data"), plus the count.
            "id": cancellation_id,
            "environment_id": "default",
            "app_id": req.app_id,
            "function_id": req.function_id,
            "started_after": req.started_after,
            "started_before": req.started_before,
            "if": req.condition.source if req.condition else None,
            "cancelled": cancelled,
        }
    )
