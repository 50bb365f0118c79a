"""Login in start mode: the key typed in (the dashboard key or the signing key) becomes an
HttpOnly, SameSite=Strict session cookie holding an expiry and its HMAC under a secret
derived from that key (``auth.session_value``): never the key itself. Dev mode has no login.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from outlast.server.auth import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    cross_site_problem,
    has_session,
    login_key,
    session_value,
)
from outlast.server.dashboard.render import failed, form, render
from outlast.server.settings import ServerSettings

HOME = "/runs"


def _next(value: str | None) -> str:
    """Where to go after logging in: a path on this server only (an open redirect to
    another site would make the login page a phishing aid)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME
    return value


async def login_page(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    target = _next(request.query_params.get("next"))
    if settings.dev or has_session(request, settings):
        return RedirectResponse(target, 303)
    return render(request, "login.html", {"next": target, "message": None})


async def login(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    if settings.dev:
        return RedirectResponse(HOME, 303)
    problem = cross_site_problem(request)
    if problem is not None:
        return failed(request, problem, 403)
    fields = await form(request)
    if isinstance(fields, Response):
        return fields
    target = _next(fields.get("next"))
    key = login_key(fields.get("key", ""), settings)
    if key is None:
        context = {
            "next": target,
            "message": "That key is neither the dashboard key nor the signing key.",
        }
        return render(request, "login.html", context, 401)
    expires = int(time.time()) + SESSION_TTL_S
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(key, expires),
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
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
