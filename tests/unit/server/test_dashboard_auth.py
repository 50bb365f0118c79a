"""The dashboard's login and request checks: the session cookie (a random id in the store,
ended by a logout), the keys that log in, the cross-site check on actions, and where a
login may send the browser."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from outlast.protocol import ids, signing
from outlast.server.auth import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    Denied,
    api_key_problem,
    close_session,
    cross_site_problem,
    has_session,
    login_key,
    open_session,
    session_value,
)
from outlast.server.dashboard.login import _next
from outlast.server.settings import ServerSettings
from outlast.store import Store

SIGNING = "signkey-prod-" + "ab" * 32
DASHBOARD = "a-dashboard-key-of-some-length"
START = ServerSettings(dev=False, event_keys=("k",), signing_key=SIGNING, dashboard_key=DASHBOARD)


def request(method: str = "GET", **headers: str) -> Request:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "path": "/", "headers": raw})


def with_cookie(value: str, method: str = "GET", **headers: str) -> Request:
    return request(method, cookie=f"{SESSION_COOKIE}={value}", **headers)


def test_the_dashboard_key_and_the_signing_key_log_in_nothing_else() -> None:
    assert login_key(DASHBOARD, START) == DASHBOARD
    assert login_key(f"  {DASHBOARD}\n", START) == DASHBOARD
    assert login_key(SIGNING, START) == SIGNING
    assert login_key(signing.hash_key(SIGNING), START) == SIGNING  # its Bearer form
    for wrong in ("", "   ", DASHBOARD[:-1], "signkey-prod-" + "cd" * 32, "ключ"):
        assert login_key(wrong, START) is None
    no_dashboard_key = ServerSettings(dev=False, signing_key=SIGNING)
    assert login_key(DASHBOARD, no_dashboard_key) is None


async def test_a_session_is_a_random_id_in_the_store_and_its_mac_not_the_key(
    memory_store: Store,
) -> None:
    value = await open_session(memory_store, DASHBOARD)
    assert DASHBOARD not in value
    assert await has_session(with_cookie(value), START, memory_store)
    signed = await open_session(memory_store, SIGNING)
    assert await has_session(with_cookie(signed), START, memory_store)
    # Expired, the id with another session's MAC, another key's MAC, an id the store never
    # opened, junk: no session.
    after_expiry = ids.now_ms() + SESSION_TTL_S * 1000 + 60_000
    assert not await has_session(with_cookie(value), START, memory_store, now_ms=after_expiry)
    login_id, mac = value.split(".", 1)
    other_id = signed.split(".", 1)[0]
    assert not await has_session(with_cookie(f"{other_id}.{mac}"), START, memory_store)
    forged = session_value("another-key-entirely", login_id)
    assert not await has_session(with_cookie(forged), START, memory_store)
    never_opened = session_value(DASHBOARD, "x" * 43)
    assert not await has_session(with_cookie(never_opened), START, memory_store)
    for junk in ("", ".", "x.y", "1" * 100 + ".ab", "²³.ab", f"{login_id}/.{mac}"):
        assert not await has_session(with_cookie(junk), START, memory_store)
    # A server whose keys changed does not honour the old sessions.
    rotated = ServerSettings(dev=False, signing_key="signkey-prod-" + "ef" * 32)
    assert not await has_session(with_cookie(value), rotated, memory_store)


async def test_two_logins_open_two_sessions_and_a_logout_ends_its_own(
    memory_store: Store,
) -> None:
    first = await open_session(memory_store, DASHBOARD)
    second = await open_session(memory_store, DASHBOARD)  # within the same second
    assert first != second
    await close_session(with_cookie(first, "POST"), START, memory_store)
    assert not await has_session(with_cookie(first), START, memory_store)
    assert await has_session(with_cookie(second), START, memory_store)
    # A logged-out cookie no longer opens the REST API either.
    denied = await api_key_problem(with_cookie(first), START, memory_store)
    assert denied is not None and denied.status == 401
    # Logging out without a session (or with junk) is harmless.
    await close_session(with_cookie("junk", "POST"), START, memory_store)
    await close_session(request("POST"), START, memory_store)
    assert await has_session(with_cookie(second), START, memory_store)


async def test_the_rest_api_takes_either_key_or_a_session_whose_changes_come_from_here(
    memory_store: Store,
) -> None:
    async def problem(req: Request, settings: ServerSettings = START) -> Denied | None:
        return await api_key_problem(req, settings, memory_store)

    assert await problem(request(), ServerSettings()) is None  # dev: open
    assert await problem(request(authorization=f"Bearer {DASHBOARD}")) is None
    assert await problem(request(authorization=f"Bearer {SIGNING}")) is None
    denied = await problem(request(authorization="Bearer nope"))
    assert denied is not None and denied.status == 401 and "invalid signing key" in denied.message
    denied = await problem(request())
    assert denied is not None and denied.status == 401 and "missing signing key" in denied.message
    session = await open_session(memory_store, DASHBOARD)
    assert await problem(with_cookie(session)) is None
    denied = await problem(with_cookie(session, "DELETE", host="h:1"))
    assert denied is not None and denied.status == 403
    same_site = with_cookie(session, "DELETE", host="h:1", origin="http://h:1")
    assert await problem(same_site) is None


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"host": "127.0.0.1:8288", "origin": "http://127.0.0.1:8288"}, True),
        ({"host": "127.0.0.1:8288", "origin": "https://127.0.0.1:8288"}, True),  # TLS proxy
        ({"host": "example.com", "origin": "https://EXAMPLE.com"}, True),
        ({"host": "h:1", "referer": "http://h:1/runs/abc"}, True),
        ({"host": "h:1", "origin": "null", "referer": "http://h:1/runs"}, True),
        ({"host": "127.0.0.1:8288"}, False),
        ({"host": "127.0.0.1:8288", "origin": "null"}, False),
        ({"host": "127.0.0.1:8288", "origin": "http://127.0.0.1:9999"}, False),
        ({"host": "example.com", "origin": "https://example.com.evil.test"}, False),
        ({"host": "h:1", "referer": "http://evil.test/?h:1"}, False),
    ],
)
def test_actions_must_come_from_the_dashboards_own_pages(
    headers: dict[str, str], allowed: bool
) -> None:
    problem = cross_site_problem(request("POST", **headers))
    assert (problem is None) is allowed, problem


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        (None, "/runs"),
        ("", "/runs"),
        ("/events?name=x", "/events?name=x"),
        ("//evil.test/", "/runs"),
        ("https://evil.test/", "/runs"),
        ("/\\evil.test", "/runs"),
        ("runs", "/runs"),
    ],
)
def test_a_login_goes_back_to_a_page_of_this_server_only(asked: str | None, goes: str) -> None:
    assert _next(asked) == goes
