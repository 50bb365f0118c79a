"""Rendering and guarding the dashboard's pages: the Jinja environment (autoescaped: every
payload is user data), the login check in start mode, the cross-site check on actions,
form bodies, and how an action answers (a redirect, or the error on the page)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from outlast.domain import SkipReason
from outlast.engine import gateway
from outlast.engine.runtime import Engine
from outlast.server.auth import cross_site_problem, has_session
from outlast.server.responses import BodyTooLarge, read_body
from outlast.server.settings import ServerSettings

HERE = Path(__file__).parent
#: A form is a few fields; the JSON ones hold an event, bounded by the server's event limit.
MAX_FORM_EXTRA = 64 * 1024
#: Characters of JSON shown in a list's payload preview.
PREVIEW_CHARS = 120

Handler = Callable[[Request, Engine], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


# -- formatting ------------------------------------------------------------------------------


def when(ms: int | None) -> str:
    """A unix-ms time as UTC, to the millisecond."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(ms // 1000, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def pretty(value: Any) -> str:
    """JSON for people: indented, non-ASCII kept."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def preview(value: Any, chars: int = PREVIEW_CHARS) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= chars else text[: chars - 1] + "…"


def status_name(value: str) -> str:
    """``running`` -> ``Running``: a run's status as the dashboard shows it."""
    return value.capitalize()


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(
    when=when, duration=duration, pretty=pretty, preview=preview, status_name=status_name
)
ENV.filters["q"] = lambda value: quote(str(value), safe="")
#: What each reason an event started no run means (``outlast.domain.SkipReason``).
ENV.globals["ai_usage"] = gateway.step_usage
ENV.globals["skip_reasons"] = {
    SkipReason.FILTERED.value: "the trigger's expression is false for this event",
    SkipReason.RATE_LIMITED.value: "over the function's rate limit",
    SkipReason.DEDUPLICATED.value: "its id (or idempotency key) was seen in the last 24 h",
    SkipReason.PAUSED.value: "the function was paused",
    SkipReason.SINGLETON.value: "a run with the same singleton key was unfinished",
    SkipReason.DEBOUNCED.value: "a later event for the same debounce key took its place",
    SkipReason.FUNCTION_REMOVED.value: "the function was removed while the event waited",
}


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    settings: ServerSettings = request.app.state.settings
    html = ENV.get_template(template).render(
        request=request,
        path=request.url.path,
        dev=settings.dev,
        **context,
    )
    return HTMLResponse(html, status, headers=headers)


def fragment(template: str, **context: Any) -> str:
    """A template rendered outside a request (live updates)."""
    return ENV.get_template(template).render(**context)


def macro(name: str) -> Callable[..., str]:
    """A macro of ``_macros.html``: the same markup for a page and its live updates."""
    found: Callable[..., str] = getattr(ENV.get_template("_macros.html").module, name)
    return found


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# -- guards ----------------------------------------------------------------------------------


async def logged_in(request: Request) -> bool:
    settings: ServerSettings = request.app.state.settings
    return settings.dev or await has_session(request, settings, request.app.state.engine.store)


def _bad_params(request: Request) -> str | None:
    # Valid in a URL, but no id or name holds one, and PostgreSQL text cannot.
    params = [*request.path_params.values(), *request.query_params.values()]
    if any("\x00" in str(v) for v in params):
        return "URL parameters must not contain NUL characters"
    return None


def page(handler: Handler) -> Endpoint:
    """A page (GET): in start mode, someone not logged in is sent to the login page."""

    async def endpoint(request: Request) -> Response:
        if not await logged_in(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            login = f"/login?next={quote(target, safe='')}"
            if is_htmx(request):
                return Response(status_code=401, headers={"HX-Redirect": login})
            return RedirectResponse(login, 303)
        problem = _bad_params(request)
        if problem is not None:
            return failed(request, problem, 400)
        return await handler(request, request.app.state.engine)

    endpoint.__name__ = handler.__name__
    return endpoint


def action(handler: Handler) -> Endpoint:
    """An action (POST): logged in (start mode), and sent by the dashboard's own pages."""

    async def endpoint(request: Request) -> Response:
        if not await logged_in(request):
            headers = {"HX-Redirect": "/login"} if is_htmx(request) else None
            return failed(request, "log in first: this dashboard needs a key", 401, headers)
        problem = cross_site_problem(request)
        if problem is not None:
            return failed(request, problem, 403)
        problem = _bad_params(request)
        if problem is not None:
            return failed(request, problem, 400)
        return await handler(request, request.app.state.engine)

    endpoint.__name__ = handler.__name__
    return endpoint


# -- answers ---------------------------------------------------------------------------------


def done(request: Request, location: str) -> Response:
    """An action succeeded: show ``location`` (htmx follows HX-Redirect; a plain form, 303)."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": location})
    return RedirectResponse(location, 303)


def failed(
    request: Request, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    """The error on the page: a message fragment for htmx (swapped into the form's flash
    area), a page of its own for a plain request."""
    template = "_flash.html" if is_htmx(request) else "error.html"
    return render(request, template, {"message": message, "status": status}, status, headers)


async def form(request: Request) -> dict[str, str] | Response:
    """The fields of a URL-encoded form (the first value of each), or the error page."""
    settings: ServerSettings = request.app.state.settings
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit = settings.max_event_bytes * 3 + MAX_FORM_EXTRA  # JSON, percent-encoded
    try:
        raw = await read_body(request, limit)
    except BodyTooLarge:
        return failed(request, f"the form is larger than {limit} bytes", 413)
    if not raw:
        return {}
    if kind != "application/x-www-form-urlencoded":
        return failed(
            request,
            f"send the form URL-encoded (application/x-www-form-urlencoded), not {kind!r}",
            415,
        )
    try:
        fields = parse_qs(
            raw.decode("utf-8"), keep_blank_values=True, max_num_fields=100, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        return failed(request, f"the form cannot be read: {exc}", 400)
    found = {name: values[0] for name, values in fields.items()}
    if any("\x00" in k or "\x00" in v for k, v in found.items()):
        return failed(request, "form fields must not contain NUL characters", 400)
    return found
