"""``POST /e/{key}``: the event API (protocol.md §1).

Events are checked in order and processing stops at the first invalid one; those
before it are kept. An answer of 200 means the events are committed to the store.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from outlast.engine.events import InvalidEvent, normalise
from outlast.engine.runtime import Engine
from outlast.protocol import ids, jsonutil
from outlast.protocol.ops import MAX_EVENTS_PER_REQUEST, Header
from outlast.protocol.signing import same_secret
from outlast.server.responses import BodyTooLarge, json_response, json_type, read_body
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
    if not any(same_secret(key, k) for k in settings.event_keys):
        return json_response({"error": "Event key not found", "status": 401}, 401)
    return None


async def post_events(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    engine: Engine = request.app.state.engine
    denied = key_error(request.path_params["key"], settings)
    if denied is not None:
        return denied
    try:
        raw = await read_body(request, settings.max_request_bytes)
    except BodyTooLarge:
        return _answer([], 413, f"request body is larger than {settings.max_request_bytes} bytes")
    try:
        body = jsonutil.loads(raw)
    except ValueError:
        return _answer([], 400, "request body is not valid JSON")
    if not isinstance(body, dict | list):
        return _answer(
            [],
            400,
            "request body must be an event (a JSON object) or an array of events, "
            f"got {json_type(body)}",
        )
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_EVENTS_PER_REQUEST:
        return _answer([], 400, f"more than {MAX_EVENTS_PER_REQUEST} events in one request")
    accepted, problem = await send_events(
        engine, settings, items, request.headers.get(Header.EVENT_ID_SEED)
    )
    if problem is not None:
        return _answer(accepted, 400, problem)
    return _answer(accepted, 200)


async def send_events(
    engine: Engine, settings: ServerSettings, items: list[Any], seed: str | None = None
) -> tuple[list[str], str | None]:
    """Check and ingest events (the event API and the dashboard's "send event" form): the
    internal ids of those kept, and why the first invalid one was refused (None: all were
    valid). Events before an invalid one are kept. Committed when this returns."""
    now = ids.now_ms()
    internal = _internal_ids(seed, len(items), now)
    records = []
    problem: str | None = None
    for i, (item, iid) in enumerate(zip(items, internal, strict=True)):
        try:
            _check_shape(item)
            records.append(normalise(item, iid, now, settings.max_event_bytes))
        except InvalidEvent as exc:
            problem = f"event {i}: {exc}"
            break
    await engine.ingest(records)
    return [r.internal_id for r in records], problem


def _check_shape(item: Any) -> None:
    """The checks that come before :func:`normalise`'s, with messages naming the problem.

    NUL characters are refused in the values stored outside JSON (name and id): they are
    valid JSON but PostgreSQL text cannot hold them.
    """
    if not isinstance(item, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {json_type(item)}")
    if "name" not in item or item["name"] is None:
        raise InvalidEvent("event has no name (the 'name' field is required)")
    name = item["name"]
    if not isinstance(name, str):
        raise InvalidEvent(f"event name must be a string, got {json_type(name)}")
    if "\x00" in name:
        raise InvalidEvent("event name must not contain NUL characters")
    event_id = item.get("id")
    if isinstance(event_id, str) and "\x00" in event_id:
        raise InvalidEvent("event id must not contain NUL characters")


def _internal_ids(seed: str | None, count: int, now: int) -> list[str]:
    if seed:
        try:
            return ids.seeded_ulids(seed, count)
        except ids.SeedError:
            log.warning("ignoring a malformed event id seed", extra={"seed": seed[:100]})
    return ids.monotonic_ulids(now, count)
