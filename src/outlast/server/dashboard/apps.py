"""The apps page: synced apps; add an app by URL, resync one.

Adding or resyncing is what ``outlast dev -u URL`` does (``server.discovery``): the server
sends the app a PUT, and the app syncs itself through ``POST /fn/register``.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import Response

from outlast.engine.runtime import Engine
from outlast.server import reads
from outlast.server.dashboard.render import action, done, failed, form, page, render
from outlast.server.discovery import sync_url
from outlast.server.settings import ServerSettings

#: The PUT waits for the app, which waits for its sync: generous, as at dev start.
SYNC_TIMEOUT_S = 30.0
MAX_URL_CHARS = 2000


@page
async def apps_page(request: Request, engine: Engine) -> Response:
    apps = await reads.list_apps(engine.store)
    counts = Counter(f.app_id for f in await reads.list_functions(engine.store))
    return render(request, "apps.html", {"apps": apps, "counts": counts})


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an app's serve URL, or None."""
    example = "e.g. http://127.0.0.1:8000/api/outlast"
    if not url:
        return f"enter the app's serve URL ({example})"
    if len(url) > MAX_URL_CHARS:
        return f"the URL is longer than {MAX_URL_CHARS} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{url[:200]!r} is not an http(s) URL ({example})"
    return None


async def _sync(request: Request, url: str) -> str | None:
    settings: ServerSettings = request.app.state.settings
    async with httpx.AsyncClient(timeout=SYNC_TIMEOUT_S) as client:
        try:
            return await sync_url(client, url, settings)
        except httpx.InvalidURL as exc:
            return f"invalid URL: {exc}"


@action
async def add_app(request: Request, engine: Engine) -> Response:
    fields = await form(request)
    if isinstance(fields, Response):
        return fields
    url = fields.get("url", "").strip()
    problem = url_problem(url)
    if problem is not None:
        return failed(request, problem, 400)
    problem = await _sync(request, url)
    if problem is not None:
        return failed(request, f"could not sync the app at {url}: {problem}", 502)
    return done(request, "/apps")


@action
async def resync_app(request: Request, engine: Engine) -> Response:
    app_id = request.path_params["app_id"]
    app = await reads.get_app(engine.store, app_id)
    if app is None:
        return failed(request, f"app {app_id!r} not found", 404)
    problem = await _sync(request, app.url)
    if problem is not None:
        # Shown on the apps page until a sync succeeds (which clears it).
        async with engine.store.tx() as s:
            await s.set_app_error(app_id, problem)
        return failed(request, f"could not resync {app_id!r}: {problem}", 502)
    return done(request, "/apps")
