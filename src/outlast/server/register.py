"""App sync: ``POST /fn/register`` and ``POST /fn/remove`` (protocol.md §2), ``GET /dev``."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from outlast.engine.config import ConfigProblem, build_spec
from outlast.engine.runtime import Engine
from outlast.protocol import ids, jsonutil
from outlast.protocol.ops import Header
from outlast.protocol.registration import RegisterRequest
from outlast.server.auth import signing_key_ok
from outlast.server.responses import BodyTooLarge, error, json_response, read_body
from outlast.server.settings import ServerSettings

log = logging.getLogger(__name__)

#: A sync carries every function's config; this is generous for hundreds of functions.
MAX_SYNC_BYTES = 16 * 1024 * 1024


def describe_validation(exc: ValidationError) -> str:
    """One line per problem, naming the field path: readable in a 400 answer."""
    parts = []
    for err in exc.errors()[:10]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


async def register(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    engine: Engine = request.app.state.engine
    if not signing_key_ok(request, settings):
        return error("invalid or missing signing key", 401)
    expected = request.headers.get(Header.EXPECTED_SERVER_KIND)
    if expected and expected != settings.kind.value:
        return error(f"Expected server kind {expected}, got {settings.kind.value}", 400)
    try:
        raw = await read_body(request, MAX_SYNC_BYTES)
        body = jsonutil.loads(raw)
    except BodyTooLarge:
        return error(f"sync body is larger than {MAX_SYNC_BYTES} bytes", 413)
    except ValueError:
        return error("sync body is not valid JSON", 400)
    if not isinstance(body, dict):
        return error("sync body must be a JSON object", 400)
    try:
        req = RegisterRequest.model_validate(body)
    except ValidationError as exc:
        return error(f"invalid sync: {describe_validation(exc)}", 400)
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
    if not signing_key_ok(request, settings):
        return error("invalid or missing signing key", 401)
    try:
        body = jsonutil.loads(await read_body(request, MAX_SYNC_BYTES))
    except (BodyTooLarge, ValueError):
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
