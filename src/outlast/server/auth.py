"""Who may call what.

Sync wants the signing key (Bearer) in self-hosted mode. The REST API and the dashboard
also take the dashboard key: as a Bearer token, or through the session cookie the
dashboard's login sets (a random session id held in the store until logout or expiry, and
its MAC under the key it was opened with). Dev mode lets everyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from typing import NamedTuple
from urllib.parse import urlsplit

from starlette.requests import Request

from outlast.protocol import ids, signing
from outlast.server.settings import ServerSettings
from outlast.store import Store

#: The dashboard's session cookie: ``<session id>.<hex HMAC of the id>``. The id is a row
#: of the store's ``dashboard_logins`` (store/logins.py), which a logout deletes.
SESSION_COOKIE = "outlast_session"
SESSION_TTL_S = 7 * 24 * 3600
#: Random bytes in a session id (URL-safe base64 in the cookie).
SESSION_ID_BYTES = 32
_ID_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
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


async def api_key_problem(
    request: Request, settings: ServerSettings, store: Store
) -> Denied | None:
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
    if await has_session(request, settings, store):
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
    # leaked cookie says nothing about the key, and changing the key ends every session.
    material = b"outlast dashboard session\x00" + key.encode("utf-8", "replace")
    return hashlib.sha256(material).digest()


def session_value(key: str, login_id: str) -> str:
    """The cookie value for session ``login_id`` opened with ``key``."""
    mac = hmac.new(_session_secret(key), login_id.encode(), hashlib.sha256).hexdigest()
    return f"{login_id}.{mac}"


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


def new_session_id() -> str:
    """A session's id: random (not derived from the time), so every login, even two in the
    same second, opens a session of its own that its logout alone ends."""
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def session_id(request: Request, settings: ServerSettings) -> str | None:
    """The id of the session the request's cookie names, if its MAC is one of a key this
    server takes now; None for no cookie, junk or a forgery. Whether the session is still
    open is the store's to say (:func:`has_session`)."""
    value = request.cookies.get(SESSION_COOKIE, "")
    found, _, _ = value.partition(".")
    # The MAC keeps a guessed or tampered id from costing a database read.
    if not (0 < len(found) <= 2 * SESSION_ID_BYTES and _ID_CHARS.issuperset(found)):
        return None
    if any(signing.same_secret(value, session_value(key, found)) for key in settings.login_keys):
        return found
    return None


async def open_session(store: Store, key: str, now_ms: int | None = None) -> str:
    """Open a session for someone who gave ``key``: its cookie value."""
    now = ids.now_ms() if now_ms is None else now_ms
    found = new_session_id()
    async with store.tx() as s:
        await s.add_login(found, now + SESSION_TTL_S * 1000, now)
    return session_value(key, found)


async def has_session(
    request: Request, settings: ServerSettings, store: Store, now_ms: int | None = None
) -> bool:
    """Whether the request's cookie names a session that is open: not logged out, not
    expired, opened with a key this server takes."""
    found = session_id(request, settings)
    if found is None:
        return False
    async with store.read() as s:
        return await s.login_holds(found, ids.now_ms() if now_ms is None else now_ms)


async def close_session(request: Request, settings: ServerSettings, store: Store) -> None:
    """End the request's session (log out), in the store: its cookie opens nothing anymore,
    on any server process on this database, even if the browser keeps it."""
    found = session_id(request, settings)
    if found is not None:
        async with store.tx() as s:
            await s.remove_login(found)


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
