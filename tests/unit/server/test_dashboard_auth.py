"""The dashboard's login and request checks: the session cookie, the keys that log in, the
cross-site check on actions, and where a login may send the browser."""

from __future__ import annotations

import time

import pytest
from starlette.requests import Request

from outlast.protocol import signing
from outlast.server.auth import (
    SESSION_COOKIE,
    api_key_problem,
    cross_site_problem,
    has_session,
    login_key,
    session_value,
)
from outlast.server.dashboard.login import _next
from outlast.server.settings import ServerSettings

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


def test_a_session_is_a_mac_of_its_expiry_not_the_key() -> None:
    later = int(time.time()) + 60
    value = session_value(DASHBOARD, later)
    assert DASHBOARD not in value and value.startswith(f"{later}.")
    assert has_session(with_cookie(value), START)
    assert has_session(with_cookie(session_value(SIGNING, later)), START)
    # Expired, another expiry with the same MAC, another key's MAC, junk: no session.
    assert not has_session(with_cookie(value), START, now=later + 1)
    mac = value.split(".", 1)[1]
    assert not has_session(with_cookie(f"{later + 3600}.{mac}"), START)
    assert not has_session(with_cookie(session_value("another-key-entirely", later)), START)
    for junk in ("", ".", "x.y", "1" * 13 + ".ab", "²³.ab"):
        assert not has_session(with_cookie(junk), START)
    # A server whose keys changed does not honour the old sessions.
    rotated = ServerSettings(dev=False, signing_key="signkey-prod-" + "ef" * 32)
    assert not has_session(with_cookie(value), rotated)


def test_the_rest_api_takes_either_key_or_a_session_whose_changes_come_from_here() -> None:
    assert api_key_problem(request(), ServerSettings()) is None  # dev: open
    assert api_key_problem(request(authorization=f"Bearer {DASHBOARD}"), START) is None
    assert api_key_problem(request(authorization=f"Bearer {SIGNING}"), START) is None
    denied = api_key_problem(request(authorization="Bearer nope"), START)
    assert denied is not None and denied.status == 401 and "invalid signing key" in denied.message
    denied = api_key_problem(request(), START)
    assert denied is not None and denied.status == 401 and "missing signing key" in denied.message
    session = session_value(DASHBOARD, int(time.time()) + 60)
    assert api_key_problem(with_cookie(session), START) is None
    denied = api_key_problem(with_cookie(session, "DELETE", host="h:1"), START)
    assert denied is not None and denied.status == 403
    same_site = with_cookie(session, "DELETE", host="h:1", origin="http://h:1")
    assert api_key_problem(same_site, START) is None


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
