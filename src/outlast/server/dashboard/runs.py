"""The runs pages: the list (filtered by function, status and time, keyset-paged, live
through ``live``), a run's page (header, actions, the timeline), and its actions."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from outlast.domain import RunStatus
from outlast.engine import manage
from outlast.engine.runtime import Engine
from outlast.protocol.ids import now_ms
from outlast.server import actions, reads
from outlast.server.dashboard import timeline
from outlast.server.dashboard.render import action, done, failed, form, page, render

#: Runs per page of the list (and in each live update of its first page).
PAGE = 50
STATUSES = [s.value for s in RunStatus]
_STATUS: dict[type[manage.ManageError], int] = {
    manage.NotFound: 404,
    manage.Invalid: 400,
    manage.Conflict: 409,
}


@dataclass(frozen=True, slots=True)
class RunsQuery:
    """The list's filters as typed (to fill the form and build links)."""

    function_id: str = ""
    status: str = ""
    since: str = ""
    until: str = ""

    def url(self, path: str = "/runs", **extra: str) -> str:
        fields = {
            "function_id": self.function_id,
            "status": self.status,
            "since": self.since,
            "until": self.until,
            **extra,
        }
        query = urlencode({k: v for k, v in fields.items() if v})
        return f"{path}?{query}" if query else path


def parse_time(raw: str, what: str) -> int | str:
    """A time from the filter form (``2024-05-01T12:00``, any ISO 8601; UTC without a
    zone) as unix ms, or why it is not one."""
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        return f"{what} is not a date and time: {raw[:40]!r} (e.g. 2024-05-01T12:00)"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def parse_query(params: Mapping[str, str]) -> tuple[RunsQuery, reads.RunFilter | str]:
    """The filters of a runs list request, and the filter they make (or why they are wrong)."""
    query = RunsQuery(
        function_id=params.get("function_id", "").strip(),
        status=params.get("status", "").strip().lower(),
        since=params.get("since", "").strip(),
        until=params.get("until", "").strip(),
    )
    status = None
    if query.status:
        if query.status not in STATUSES:
            return query, f"unknown status {query.status[:40]!r}; one of {', '.join(STATUSES)}"
        status = RunStatus(query.status)
    times: list[int | None] = []
    for raw, what in ((query.since, "since"), (query.until, "until")):
        found = parse_time(raw, what) if raw else None
        if isinstance(found, str):
            return query, found
        times.append(found)
    since, until = times
    if since is not None and until is not None and since >= until:
        return query, "since must be earlier than until"
    return query, reads.RunFilter(query.function_id or None, status, since, until)


def runs_signature(views: list[reads.RunView]) -> str:
    """Changes whenever the rows shown change (a new run, a status, an end)."""
    text = "|".join(
        f"{v.run.id}:{v.run.status.value}:{v.run.ended_at}:{v.original_run_id}" for v in views
    )
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def next_url(query: RunsQuery, views: list[reads.RunView]) -> str | None:
    return query.url(before=views[-1].run.id) if len(views) == PAGE else None


def empty_text(query: RunsQuery) -> str:
    if query == RunsQuery():
        return "No runs yet: send an event, or invoke a function."
    return "No run matches these filters."


@page
async def runs_page(request: Request, engine: Engine) -> Response:
    query, where = parse_query(request.query_params)
    before = request.query_params.get("before") or None
    context: dict[str, Any] = {
        "functions": await reads.list_functions(engine.store),
        "statuses": STATUSES,
        "query": query,
        "empty": empty_text(query),
        "problem": None,
        "views": [],
        "live_url": None,
        "next_url": None,
        "first_url": query.url() if before else None,
    }
    if isinstance(where, str):
        return render(request, "runs.html", {**context, "problem": where}, 400)
    views = await reads.list_runs(engine.store, where, before=before, limit=PAGE)
    context["views"] = views
    context["next_url"] = next_url(query, views)
    if before is None:
        # The first page keeps itself up to date; a later page is a fixed slice.
        context["live_url"] = query.url("/live/runs", sig=runs_signature(views))
    return render(request, "runs.html", context)


def run_version(detail: reads.RunDetail) -> str:
    """Changes whenever the run page would show something new."""
    run = detail.run
    parts = [run.status.value, str(run.ended_at), str(len(detail.attempts))]
    parts += [f"{s.hash}:{s.status.value}:{s.attempts}:{s.ended_at}" for s in detail.steps]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def run_context(detail: reads.RunDetail) -> dict[str, Any]:
    run = detail.run
    first = run.events[0] if run.events else {}
    return {
        "detail": detail,
        "run": run,
        "tl": timeline.build(run, detail.steps, detail.attempts, now_ms()),
        "version": run_version(detail),
        "event_name": first.get("name") if isinstance(first, dict) else None,
    }


@page
async def run_page(request: Request, engine: Engine) -> Response:
    run_id = request.path_params["run_id"]
    detail = await reads.get_run(engine.store, run_id, attempts=True)
    if detail is None:
        return failed(request, f"run {run_id!r} not found", 404)
    return render(request, "run.html", run_context(detail))


@page
async def run_live(request: Request, engine: Engine) -> Response:
    """A running run's page asks every second: 204 while nothing changed, else its body."""
    run_id = request.path_params["run_id"]
    detail = await reads.get_run(engine.store, run_id, attempts=True)
    if detail is None:
        return failed(request, f"run {run_id!r} not found", 404)
    if request.query_params.get("v") == run_version(detail):
        return Response(status_code=204)
    return render(request, "_run_body.html", run_context(detail))


def _problem(request: Request, exc: manage.ManageError) -> Response:
    return failed(request, exc.message, _STATUS.get(type(exc), 400))


@action
async def cancel_run(request: Request, engine: Engine) -> Response:
    run_id = request.path_params["run_id"]
    try:
        await actions.cancel(engine, run_id)
    except manage.ManageError as exc:
        return _problem(request, exc)
    return done(request, f"/runs/{run_id}")


@action
async def rerun_run(request: Request, engine: Engine) -> Response:
    fields = await form(request)
    if isinstance(fields, Response):
        return fields
    from_step = fields.get("from_step", "").strip() or None
    try:
        result = await engine.rerun(request.path_params["run_id"], from_step)
    except manage.ManageError as exc:
        return _problem(request, exc)
    return done(request, f"/runs/{result.run.id}")
