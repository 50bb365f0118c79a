"""Login in start mode: the key typed in (the dashboard key or the signing key) opens a
session: a random id kept in the store, sent as an HttpOnly, SameSite=Strict cookie with
its HMAC under a secret derived from that key (``auth.open_session``), never the key
itself. Logging out deletes the session from the store, so the cookie opens nothing even
if it was copied. Failed logins are limited per client address and overall
(``failed_logins``): past the limit the login answers 429 without looking at the key.
Dev mode has no login.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from outlast.server.auth import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    close_session,
    cross_site_problem,
    has_session,
    login_key,
    open_session,
)
from outlast.server.dashboard.failed_logins import FailedLogins
from outlast.server.dashboard.render import failed, form, render
from outlast.server.settings import ServerSettings

HOME = "/runs"


def _next(value: str | None) -> str:
    """Where to go after logging in: a path on this server only (an open redirect to
    another site would make the login page a phishing aid)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME
    return value


def _address(request: Request) -> str:
    # Behind a reverse proxy this is the proxy's address unless the server is told to
    # trust its X-Forwarded-For (uvicorn does for a proxy on 127.0.0.1); every client then
    # shares one address's limit, which only makes the limit stricter.
    return request.client.host if request.client else ""


async def login_page(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    target = _next(request.query_params.get("next"))
    if settings.dev or await has_session(request, settings, request.app.state.engine.store):
        return RedirectResponse(target, 303)
    return render(request, "login.html", {"next": target, "message": None})


async def login(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    if settings.dev:
        return RedirectResponse(HOME, 303)
    problem = cross_site_problem(request)
    if problem is not None:
        return failed(request, problem, 403)
    limits: FailedLogins = request.app.state.failed_logins
    address = _address(request)
    wait = limits.retry_after(address)
    if wait:
        # Before reading the form: past the limit, no key is looked at, right or wrong.
        context = {
            "next": _next(request.query_params.get("next")),
            "message": f"Too many wrong keys: try again in {wait} s.",
        }
        return render(request, "login.html", context, 429, {"retry-after": str(wait)})
    fields = await form(request)
    if isinstance(fields, Response):
        return fields
    target = _next(fields.get("next"))
    key = login_key(fields.get("key", ""), settings)
    if key is None:
        limits.failed(address)
        context = {
            "next": target,
            "message": "That key is neither the dashboard key nor the signing key.",
        }
        return render(request, "login.html", context, 401)
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        await open_session(request.app.state.engine.store, key),
        max_age=SESSION_TTL_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    problem = cross_site_problem(request)
    if problem is not None:
        return failed(request, problem, 403)
    settings: ServerSettings = request.app.state.settings
    await close_session(request, settings, request.app.state.engine.store)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
