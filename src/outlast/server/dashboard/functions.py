"""The functions pages: the list (triggers, app, paused, 24 h success rate) and a
function's page (its configuration, its flow-control state now, recent runs, invoke,
pause / resume)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from outlast.domain import FunctionRecord, FunctionStats
from outlast.engine import manage
from outlast.engine.runtime import Engine
from outlast.protocol import jsonutil
from outlast.protocol.ids import now_ms
from outlast.protocol.ops import DEFAULT_RETRIES
from outlast.server import reads
from outlast.server.dashboard.render import action, done, failed, form, page, render
from outlast.server.responses import json_type
from outlast.server.settings import ServerSettings

DAY_MS = 86_400_000
#: Runs on a function's page; the runs page has them all.
RECENT_RUNS = 20
#: (key shown, label, spellings in the synced config): the options that shape how a
#: function runs besides its triggers and retries, in the order the README lists them.
CONFIG_FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("concurrency", "Concurrency", ("concurrency",)),
    ("throttle", "Throttle", ("throttle",)),
    ("rateLimit", "Rate limit", ("rateLimit", "rate_limit")),
    ("debounce", "Debounce", ("debounce",)),
    ("batchEvents", "Batch events", ("batchEvents", "batch_events")),
    ("priority", "Priority", ("priority",)),
    ("singleton", "Singleton", ("singleton",)),
    ("idempotency", "Idempotency", ("idempotency",)),
    ("cancel", "Cancel", ("cancel",)),
    ("timeouts", "Timeouts", ("timeouts",)),
)
_STATUS: dict[type[manage.ManageError], int] = {
    manage.NotFound: 404,
    manage.Invalid: 400,
    manage.Conflict: 409,
}


@dataclass(frozen=True, slots=True)
class ConfigItem:
    key: str
    label: str
    #: None: not set.
    value: Any


@dataclass(frozen=True, slots=True)
class FunctionRow:
    record: FunctionRecord
    triggers: list[str]
    success_rate: str


def triggers(config: dict[str, Any]) -> list[str]:
    """The function's triggers in a word each: ``name``, ``name if expr``, ``cron: expr``."""
    out = []
    for t in config.get("triggers") or []:
        if not isinstance(t, dict):
            continue
        if t.get("cron"):
            out.append(f"cron: {t['cron']}")
        elif t.get("event"):
            expression = t.get("expression")
            out.append(f"{t['event']} if {expression}" if expression else str(t["event"]))
    return out


def retries(config: dict[str, Any]) -> str:
    steps = config.get("steps")
    step = next(iter(steps.values()), None) if isinstance(steps, dict) else None
    found = step.get("retries") if isinstance(step, dict) else None
    if isinstance(found, dict) and isinstance(found.get("attempts"), int):
        return str(found["attempts"])
    return f"{DEFAULT_RETRIES} (default)"


def describe(config: dict[str, Any]) -> list[ConfigItem]:
    """The configuration as the function page lists it: every option, set or not."""
    items = [
        ConfigItem("triggers", "Triggers", ", ".join(triggers(config)) or None),
        ConfigItem("retries", "Retries", retries(config)),
    ]
    for key, label, spellings in CONFIG_FIELDS:
        value = next((config[s] for s in spellings if config.get(s) is not None), None)
        items.append(ConfigItem(key, label, value))
    return items


def success_rate(stats: FunctionStats | None) -> str:
    """Completed runs among the finished ones, e.g. ``95% (19 of 20)``; ``—`` for none."""
    if stats is None:
        return "—"
    finished = stats.completed + stats.failed + stats.cancelled
    if not finished:
        return "—"
    return f"{round(stats.completed * 100 / finished)}% ({stats.completed} of {finished})"


@page
async def functions_page(request: Request, engine: Engine) -> Response:
    app = request.query_params.get("app") or None
    records = await reads.list_functions(engine.store)
    if app is not None:
        records = [f for f in records if f.app_id == app]
    stats = await reads.function_stats(engine.store, [f.id for f in records], now_ms() - DAY_MS)
    rows = [FunctionRow(f, triggers(f.config), success_rate(stats.get(f.id))) for f in records]
    return render(request, "functions.html", {"functions": rows, "stats": stats, "app": app})


@page
async def function_page(request: Request, engine: Engine) -> Response:
    function_id = request.path_params["function_id"]
    record = await reads.get_function(engine.store, function_id)
    if record is None:
        return failed(request, f"function {function_id!r} not found", 404)
    runs = await reads.list_runs(
        engine.store, reads.RunFilter(function_id=function_id), before=None, limit=RECENT_RUNS
    )
    now = now_ms()
    stats = await reads.function_stats(engine.store, [function_id], now - DAY_MS)
    context = {
        "fn": record,
        "config": describe(record.config),
        "flow": await reads.flow_now(engine.store, record, now),
        "runs": runs,
        "stats": stats.get(function_id),
        "success_rate": success_rate(stats.get(function_id)),
    }
    return render(request, "function.html", context)


def _problem(request: Request, exc: manage.ManageError) -> Response:
    return failed(request, exc.message, _STATUS.get(type(exc), 400))


def parse_object(text: str, what: str) -> dict[str, Any] | str:
    """A JSON object typed into a form (blank: ``{}``), or why it is not one."""
    if not text.strip():
        return {}
    try:
        value = jsonutil.loads(text)
    except ValueError as exc:
        return f"{what} is not valid JSON: {exc}"
    if not isinstance(value, dict):
        return f"{what} must be a JSON object ({{...}}), got {json_type(value)}"
    return value


@action
async def invoke_function(request: Request, engine: Engine) -> Response:
    settings: ServerSettings = request.app.state.settings
    fields = await form(request)
    if isinstance(fields, Response):
        return fields
    data = parse_object(fields.get("payload", ""), "the payload")
    if isinstance(data, str):
        return failed(request, data, 400)
    try:
        run = await engine.invoke(
            request.path_params["function_id"], data, settings.max_event_bytes
        )
    except manage.ManageError as exc:
        return _problem(request, exc)
    return done(request, f"/runs/{run.id}")


async def _set_paused(request: Request, engine: Engine, paused: bool) -> Response:
    function_id = request.path_params["function_id"]
    try:
        await engine.set_paused(function_id, paused)
    except manage.ManageError as exc:
        return _problem(request, exc)
    return done(request, f"/functions/{quote(function_id, safe='')}")


@action
async def pause_function(request: Request, engine: Engine) -> Response:
    return await _set_paused(request, engine, True)


@action
async def resume_function(request: Request, engine: Engine) -> Response:
    return await _set_paused(request, engine, False)
