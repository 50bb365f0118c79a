"""App sync: ``POST /fn/register`` and ``POST /fn/remove`` (protocol.md §2), ``GET /dev``."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from outlast.engine.config import ConfigProblem, build_spec
from outlast.engine.runtime import Engine
from outlast.protocol import ids
from outlast.protocol.ops import Header
from outlast.protocol.registration import RegisterRequest
from outlast.server.auth import signing_key_problem
from outlast.server.responses import BadBody, error, json_response, read_json
from outlast.server.settings import ServerSettings

log = logging.getLogger(__name__)

#: A sync carries every function's config; this is generous for hundreds of functions.
MAX_SYNC_BYTES = 16 * 1024 * 1024


#: How pydantic names a member of a union in an error's location ("str", "list[Concurrency]",
#: "CronTrigger"): not a field of the input, so left out of the path shown to the user.
_UNION_MEMBER = re.compile(r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|[A-Z]\w*)$")


def _path(parts: Sequence[str | int]) -> str:
    """``["steps", "step", "retries"]`` → ``steps.step.retries``; ``[..., 0]`` → ``[0]``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _where(body: dict[str, Any], loc: Sequence[str | int]) -> str:
    """A location in the sync body as the user knows it: ``function 'app-fn': triggers[0].cron``."""
    parts: list[str | int] = []
    node: Any = body
    for part in loc:
        is_key = isinstance(node, dict) and part in node
        if isinstance(part, str) and not is_key and _UNION_MEMBER.match(part):
            continue
        parts.append(part)
        if is_key or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        else:
            node = None
    if len(parts) >= 2 and parts[0] == "functions" and isinstance(parts[1], int):
        fn = body["functions"][parts[1]] if isinstance(body.get("functions"), list) else None
        fn_id = fn.get("id") if isinstance(fn, dict) else None
        name = f"functions[{parts[1]}]"
        if isinstance(fn_id, str) and fn_id:
            name = f"function {fn_id!r}"
        rest = _path(parts[2:])
        return f"{name}: {rest}" if rest else name
    return _path(parts) or "body"


def describe_validation(exc: ValidationError, body: dict[str, Any]) -> str:
    """One entry per problem, naming the function and the field: readable in a 400 answer.

    The alternatives of a union (a duration is a string or a number) that failed at the same
    place are joined with "or".
    """
    found: dict[str, list[str]] = {}
    for err in exc.errors():
        messages = found.setdefault(_where(body, err["loc"]), [])
        if err["msg"] not in messages:
            messages.append(err["msg"])
    return "; ".join(f"{where}: {' or '.join(msgs)}" for where, msgs in list(found.items())[:10])


def _nul_path(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where the first NUL character of a JSON value is (PostgreSQL text cannot hold one)."""
    if isinstance(value, str):
        return loc if "\x00" in value else None
    if isinstance(value, list):
        items: Iterable[tuple[str | int, Any]] = enumerate(value)
    elif isinstance(value, dict):
        for key in value:
            if "\x00" in key:
                return (*loc, key)
        items = value.items()
    else:
        return None
    for key, item in items:
        found = _nul_path(item, (*loc, key))
        if found is not None:
            return found
    return None


async def register(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    engine: Engine = request.app.state.engine
    denied = signing_key_problem(request, settings)
    if denied is not None:
        return error(denied, 401)
    expected = request.headers.get(Header.EXPECTED_SERVER_KIND)
    if expected and expected != settings.kind.value:
        return error(f"Expected server kind {expected}, got {settings.kind.value}", 400)
    try:
        body = await read_json(request, MAX_SYNC_BYTES, "sync body")
    except BadBody as exc:
        return error(exc.message, exc.status)
    if not isinstance(body, dict):
        return error("sync body must be a JSON object", 400)
    nul = _nul_path(body)
    if nul is not None:
        return error(f"invalid sync: {_where(body, nul)}: must not contain NUL characters", 400)
    try:
        req = RegisterRequest.model_validate(body)
    except ValidationError as exc:
        return error(f"invalid sync: {describe_validation(exc, body)}", 400)
    raw_functions: list[dict[str, Any]] = list(body.get("functions") or [])
    seen: set[str] = set()
    for fn in req.functions:
        if fn.id in seen:
            return error(f"invalid sync: function id {fn.id!r} appears twice", 400)
        seen.add(fn.id)
        try:
            build_spec(req.app_name, fn)
        except ConfigProblem as exc:
            return error(f"invalid sync: {exc}", 400)
    result = await engine.sync(req, raw_functions)
    log.info(
        "app synced",
        extra={"app": result.app_id, "functions": len(req.functions), "modified": result.modified},
    )
    return json_response(
        {
            "ok": True,
            "modified": result.modified,
            "app_id": result.app_id,
            "sync_id": ids.new_ulid(),
        }
    )


async def remove(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    engine: Engine = request.app.state.engine
    denied = signing_key_problem(request, settings)
    if denied is not None:
        return error(denied, 401)
    try:
        body = await read_json(request, MAX_SYNC_BYTES)
    except BadBody:
        return error("remove body must be JSON naming the app", 400)
    app_id = None
    if isinstance(body, dict):
        app_id = body.get("appname") or body.get("appName") or body.get("app_id")
    if not isinstance(app_id, str) or not app_id:
        return error("remove body must name the app (appname)", 400)
    removed = await engine.remove_app(app_id)
    if not removed:
        return error(f"app {app_id!r} is not synced", 404)
    return json_response({"ok": True})


async def dev_info(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    engine: Engine = request.app.state.engine
    if not settings.dev:
        return error("not found", 404)
    async with engine.store.read() as r:
        apps = await r.list_apps()
    return json_response(
        {
            "version": "outlast",
            "features": {},
            "handlers": [
                {"url": a.url, "sdk": a.sdk, "framework": a.framework, "app_id": a.id} for a in apps
            ],
            "functions": [
                {"id": spec.id, "name": spec.name, "app_id": spec.app_id}
                for spec in engine.registry.all()
            ],
        }
    )


async def connect_start(request: Request) -> Response:
    # The official Python test harness uses this as a readiness check; Outlast does not
    # offer the WebSocket "connect" worker mode, so it answers like a ready server.
    return json_response({"ok": True})
