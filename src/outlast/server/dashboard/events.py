"""The events pages: the list (cursor-paged, live through ``live``) with a "send event"
form, and an event's page (payload, the runs it started or why none, replay)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from outlast.domain import EventRecord, FunctionRecord
from outlast.engine import manage
from outlast.engine.runtime import Engine
from outlast.server import reads
from outlast.server.dashboard.functions import parse_object
from outlast.server.dashboard.render import action, done, failed, form, is_htmx, page, render
from outlast.server.events_api import send_events
from outlast.server.settings import ServerSettings

#: Events per page of the list (and in each live update of its first page).
PAGE = 50


def events_url(path: str, name: str, **extra: str) -> str:
    query = urlencode({k: v for k, v in {"name": name, **extra}.items() if v})
    return f"{path}?{query}" if query else path


def events_signature(events: list[EventRecord]) -> str:
    # Events do not change once stored: the newest id and the count say it all.
    text = f"{events[0].internal_id if events else ''}:{len(events)}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def next_url(name: str, events: list[EventRecord]) -> str | None:
    if len(events) < PAGE:
        return None
    return events_url("/events", name, before=events[-1].internal_id)


@page
async def events_page(request: Request, engine: Engine) -> Response:
    name = request.query_params.get("name", "").strip()
    before = request.query_params.get("before") or None
    events = await reads.list_events(engine.store, name=name or None, before=before, limit=PAGE)
    live_url = None
    if before is None:
        live_url = events_url("/live/events", name, sig=events_signature(events))
    context = {
        "events": events,
        "name": name,
        "empty": "No event matches this name." if name else "No events yet.",
        "live_url": live_url,
        "next_url": next_url(name, events),
        "first_url": events_url("/events", name) if before else None,
    }
    return render(request, "events.html", context)


def triggered_by(functions: list[FunctionRecord], name: str) -> list[str]:
    """The functions an event called ``name`` triggers (with or without a filter)."""
    return [
        f.id
        for f in functions
        if any(isinstance(t, dict) and t.get("event") == name for t in f.config.get("triggers", []))
    ]


def outcome_signature(outcome: reads.EventOutcome) -> str:
    text = "|".join(f"{v.run.id}:{v.run.status.value}:{v.run.ended_at}" for v in outcome.runs)
    text += "#" + "|".join(f"{k.function_id}:{k.reason.value}" for k in outcome.skips)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


async def outcome_context(
    engine: Engine, event: EventRecord, outcome: reads.EventOutcome
) -> dict[str, Any]:
    """What an event's runs section shows (its page, the "sent" panel, live updates)."""
    triggered = []
    if not outcome.runs and not outcome.skips:
        triggered = triggered_by(await reads.list_functions(engine.store), event.name)
    return {
        "event": event,
        "outcome": outcome,
        "triggered": triggered,
        "live_url": f"/live/events/{event.internal_id}?sig={outcome_signature(outcome)}",
    }


@page
async def event_page(request: Request, engine: Engine) -> Response:
    event_id = request.path_params["event_id"]
    event = await reads.get_event(engine.store, event_id)
    outcome = await reads.event_outcome(engine.store, event_id)
    if event is None or outcome is None:
        return failed(request, f"event {event_id!r} not found", 404)
    return render(request, "event.html", await outcome_context(engine, event, outcome))


@action
async def send_event(request: Request, engine: Engine) -> Response:
    """The "send event" form: through the event API's own checks and ingest. htmx gets the
    sent event with its runs (kept up to date); a plain form goes to the event's page."""
    settings: ServerSettings = request.app.state.settings
    fields = await form(request)
    if isinstance(fields, Response):
        return fields
    name = fields.get("name", "").strip()
    if not name:
        return failed(request, "enter the event's name", 400)
    data = parse_object(fields.get("data", ""), "the event data")
    if isinstance(data, str):
        return failed(request, data, 400)
    accepted, problem = await send_events(engine, settings, [{"name": name, "data": data}])
    if problem is not None or not accepted:
        # The event API numbers the events of a request; this form sends one.
        return failed(request, (problem or "not sent").removeprefix("event 0: "), 400)
    event_id = accepted[0]
    if not is_htmx(request):
        return done(request, f"/events/{event_id}")
    event = await reads.get_event(engine.store, event_id)
    outcome = await reads.event_outcome(engine.store, event_id)
    assert event is not None and outcome is not None  # committed when send_events returned
    return render(request, "_sent.html", await outcome_context(engine, event, outcome))


@action
async def replay_event(request: Request, engine: Engine) -> Response:
    event_id = request.path_params["event_id"]
    try:
        await engine.replay_event(event_id)
    except manage.NotFound as exc:
        return failed(request, exc.message, 404)
    except manage.ManageError as exc:
        return failed(request, exc.message, 409)
    return done(request, f"/events/{event_id}")
