"""``POST /e/{key}``: the event API (protocol.md §1).

Events are checked in order and processing stops at the first invalid one; those
before it are kept. An answer of 200 means the events are committed to the store.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from outlast.engine.events import InvalidEvent, normalise
from outlast.engine.runtime import Engine
from outlast.protocol import ids, jsonutil
from outlast.protocol.ops import MAX_EVENTS_PER_REQUEST, Header
from outlast.server.responses import BodyTooLarge, json_response, read_body
from outlast.server.settings import ServerSettings

log = logging.getLogger(__name__)


def _answer(ids_: list[str], status: int, error: str | None = None) -> Response:
    body: dict[str, Any] = {"ids": ids_, "status": status}
    if error is not None:
        body["error"] = error
    return json_response(body, status)


def key_error(key: str, settings: ServerSettings) -> Response | None:
    if settings.dev:
        return None
    if not settings.event_keys:
        return json_response({"error": "no event keys are configured", "status": 503}, 503)
    if not any(hmac.compare_digest(key, k) for k in settings.event_keys):
        return json_response({"error": "Event key not found", "status": 401}, 401)
    return None


async def post_events(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    engine: Engine = request.app.state.engine
    denied = key_error(request.path_params["key"], settings)
    if denied is not None:
        return denied
    try:
        raw = await read_body(request, settings.max_event_bytes)
    except BodyTooLarge:
        return _answer([], 413, f"request body is larger than {settings.max_event_bytes} bytes")
    try:
        body = jsonutil.loads(raw)
    except ValueError:
        return _answer([], 400, "request body is not valid JSON")
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_EVENTS_PER_REQUEST:
        return _answer([], 400, f"more than {MAX_EVENTS_PER_REQUEST} events in one request")
    now = ids.now_ms()
    internal = _internal_ids(request.headers.get(Header.EVENT_ID_SEED), len(items), now)
    records = []
    problem: str | None = None
    for i, (item, iid) in enumerate(zip(items, internal, strict=True)):
        try:
            records.append(normalise(item, iid, now, settings.max_event_bytes))
        except InvalidEvent as exc:
            problem = f"event {i}: {exc}"
            break
    await engine.ingest(records)
    accepted = [r.internal_id for r in records]
    if problem is not None:
        return _answer(accepted, 400, problem)
    return _answer(accepted, 200)


def _internal_ids(seed: str | None, count: int, now: int) -> list[str]:
    if seed:
        try:
            return ids.seeded_ulids(seed, count)
        except ids.SeedError:
            log.warning("ignoring a malformed event id seed", extra={"seed": seed[:100]})
    return [ids.ulid_at(now) for _ in range(count)]
