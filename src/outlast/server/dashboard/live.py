"""Live updates: server-sent events that keep a list's first page (runs, events) and an
event's runs up to date without a reload.

Each stream checks about once a second with the page's own query (one page, newest
first: an index range, whatever the store holds) and sends the re-rendered rows when
what the page shows changed, with htmx's SSE extension swapping them in. Each message's
``id`` is a signature of what it shows; the page passes the signature of what it was
rendered with, and a reconnecting browser sends the last one it got (Last-Event-ID), so
nothing is sent twice and nothing is missed. A stream ends after ``STREAM_S`` and the
browser reconnects: an open page never holds up a server shutdown for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from outlast.engine.runtime import Engine
from outlast.server import reads
from outlast.server.dashboard import events as events_pages
from outlast.server.dashboard import runs as runs_pages
from outlast.server.dashboard.render import Endpoint, fragment, logged_in, macro

log = logging.getLogger(__name__)

TICK_S = 1.0
STREAM_S = 25.0
#: How soon the browser reconnects after a stream ends.
RETRY_MS = 500

#: (signature, the messages to send when it changed: (SSE event name, HTML) pairs).
Snapshot = tuple[str, Callable[[], list[tuple[str, str]]]]
Check = Callable[[], Awaitable[Snapshot]]


def sse_message(event: str, html: str, sig: str) -> bytes:
    # A data line cannot hold a newline: one line each, joined again by the browser.
    data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\nid: {sig}\n{data}\n".encode()


async def _updates(request: Request, check: Check) -> AsyncIterator[bytes]:
    known = request.headers.get("last-event-id") or request.query_params.get("sig", "")
    deadline = time.monotonic() + STREAM_S
    yield f"retry: {RETRY_MS}\n\n".encode()
    while True:
        try:
            sig, messages = await check()
        except Exception:
            # The store is away (or restarting): end here; the browser reconnects.
            log.exception("live update failed", extra={"path": request.url.path})
            return
        if sig != known:
            for event, html in messages():
                yield sse_message(event, html, sig)
            known = sig
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(TICK_S)


def _stream(request: Request, check: Check) -> Response:
    return StreamingResponse(
        _updates(request, check),
        media_type="text/event-stream",
        # No proxy may hold the updates back, nor cache them.
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def live(handler: Callable[[Request, Engine], Awaitable[Response]]) -> Endpoint:
    """A stream: 401 (not a redirect: EventSource cannot follow one to a login form)
    without a session in start mode."""

    async def endpoint(request: Request) -> Response:
        if not await logged_in(request):
            return PlainTextResponse("log in first", 401)
        params = [*request.path_params.values(), *request.query_params.values()]
        if any("\x00" in str(v) for v in params):
            return PlainTextResponse("URL parameters must not contain NUL characters", 400)
        return await handler(request, request.app.state.engine)

    endpoint.__name__ = handler.__name__
    return endpoint


@live
async def runs_stream(request: Request, engine: Engine) -> Response:
    query, where = runs_pages.parse_query(request.query_params)
    if isinstance(where, str):
        return PlainTextResponse(where, 400)
    where_ = where
    empty = runs_pages.empty_text(query)

    async def check() -> Snapshot:
        views = await reads.list_runs(engine.store, where_, before=None, limit=runs_pages.PAGE)

        def messages() -> list[tuple[str, str]]:
            rows = macro("run_rows")(views, True, empty)
            next_url = runs_pages.next_url(query, views)
            pager = fragment("_runs_pager.html", first_url=None, next_url=next_url)
            return [("runs", str(rows)), ("pager", pager)]

        return runs_pages.runs_signature(views), messages

    return _stream(request, check)


@live
async def events_stream(request: Request, engine: Engine) -> Response:
    name = request.query_params.get("name", "").strip()
    empty = "No event matches this name." if name else "No events yet."

    async def check() -> Snapshot:
        found = await reads.list_events(
            engine.store, name=name or None, before=None, limit=events_pages.PAGE
        )

        def messages() -> list[tuple[str, str]]:
            rows = macro("event_rows")(found, empty)
            next_url = events_pages.next_url(name, found)
            pager = fragment("_events_pager.html", first_url=None, next_url=next_url)
            return [("events", str(rows)), ("pager", pager)]

        return events_pages.events_signature(found), messages

    return _stream(request, check)


@live
async def event_stream(request: Request, engine: Engine) -> Response:
    """An event's runs (or why none), as its page and the "sent" panel show them."""
    event_id = request.path_params["event_id"]
    event = await reads.get_event(engine.store, event_id)
    if event is None:
        return PlainTextResponse(f"event {event_id!r} not found", 404)
    found = event

    async def check() -> Snapshot:
        outcome = await reads.event_outcome(engine.store, event_id)
        assert outcome is not None  # events are never deleted
        context = await events_pages.outcome_context(engine, found, outcome)

        def messages() -> list[tuple[str, str]]:
            html = macro("event_outcome")(outcome, context["triggered"], found)
            return [("outcome", str(html))]

        return events_pages.outcome_signature(outcome), messages

    return _stream(request, check)
