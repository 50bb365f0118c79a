"""Who may call what.

Sync wants the signing key (Bearer) in self-hosted mode. The REST API and the dashboard
also take the dashboard key: as a Bearer token, or through the session cookie the
dashboard's login sets. Dev mode lets everyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from starlette.requests import Request

from outlast.protocol import signing
from outlast.server.settings import ServerSettings

#: The dashboard's session cookie: ``<expiry, unix seconds>.<hex HMAC>``.
SESSION_COOKIE = "outlast_session"
SESSION_TTL_S = 7 * 24 * 3600
#: Methods that change nothing: no cross-site request check for them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    if value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def signing_key_problem(request: Request, settings: ServerSettings) -> str | None:
    """Why the request may not call a signed route, or None when it may.

    Dev mode lets everyone in; self-hosted mode wants the signing key (plain or hashed).
    """
    if settings.dev:
        return None
    token = bearer(request)
    if not token:
        return "missing signing key: send 'Authorization: Bearer <hashed signing key>'"
    if not signing.bearer_matches(token, settings.signing_keys):
        return "invalid signing key: the Bearer token matches no signing key of this server"
    return None


class Denied(NamedTuple):
    message: str
    #: 401 (no or a wrong key), 403 (a session, but a request from another site).
    status: int


def api_key_problem(request: Request, settings: ServerSettings) -> Denied | None:
    """Why the request may not call the REST API, or None when it may: the signing key or
    the dashboard key as Bearer, or a dashboard session (whose changes must come from the
    dashboard's own pages, see :func:`cross_site_problem`)."""
    if settings.dev:
        return None
    token = bearer(request)
    if token:
        if signing.bearer_matches(token, settings.signing_keys):
            return None
        if settings.dashboard_key and signing.same_secret(token, settings.dashboard_key):
            return None
        return Denied(
            "invalid signing key: the Bearer token matches no signing key (nor the dashboard "
            "key) of this server",
            401,
        )
    if has_session(request, settings):
        if request.method in SAFE_METHODS:
            return None
        problem = cross_site_problem(request)
        return None if problem is None else Denied(problem, 403)
    return Denied(
        "missing signing key: send 'Authorization: Bearer <hashed signing key>' (or the "
        "dashboard key), or log in to the dashboard",
        401,
    )


# -- the dashboard's session -----------------------------------------------------------------


def _session_secret(key: str) -> bytes:
    # The cookie carries a MAC made with a secret derived from the key, never the key: a
    # leaked cookie expires, and says nothing about the key.
    material = b"outlast dashboard session\x00" + key.encode("utf-8", "replace")
    return hashlib.sha256(material).digest()


def session_value(key: str, expires: int) -> str:
    """The cookie value for a session opened with ``key``, valid until ``expires`` (unix s)."""
    mac = hmac.new(_session_secret(key), str(expires).encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def login_key(given: str, settings: ServerSettings) -> str | None:
    """The configured key ``given`` is: the dashboard key, or a signing key (plain or in its
    hashed Bearer form); None when it is none of them."""
    given = given.strip()
    if not given:
        return None
    if settings.dashboard_key and signing.same_secret(given, settings.dashboard_key):
        return settings.dashboard_key
    for key in settings.signing_keys:
        if signing.bearer_matches(given, [key]):
            return key
    return None


def has_session(request: Request, settings: ServerSettings, now: float | None = None) -> bool:
    """Whether the request carries a valid, unexpired session cookie."""
    value = request.cookies.get(SESSION_COOKIE, "")
    expires, _, _ = value.partition(".")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        return False
    if int(expires) <= (time.time() if now is None else now):
        return False
    return any(
        signing.same_secret(value, session_value(key, int(expires))) for key in settings.login_keys
    )


def cross_site_problem(request: Request) -> str | None:
    """Why a request that changes something does not come from this server's own pages
    (CSRF), or None. The session cookie is SameSite=Strict, so another site's form does
    not carry it; the Origin check also covers a sibling host of the same site, and the
    dev mode, where no login is needed. Browsers send Origin with every POST; Referer is
    the fallback for the few that do not."""
    source = request.headers.get("origin")
    if source in (None, "null"):
        source = request.headers.get("referer")
    if not source:
        return (
            "refused: a request that changes something must come from the dashboard's own "
            "pages (no Origin header)"
        )
    host = request.headers.get("host", "")
    if urlsplit(source).netloc.lower() != host.lower():
        return (
            f"refused: the request comes from another site ({source[:100]}), "
            f"not from this server ({host[:100]})"
        )
    return None
