"""The dashboard of a self-hosted server (``outlast start``) wants a login: its dashboard key
or its signing key. A wrong key is refused with a message; logging out ends the session,
even for a copy of its cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.acceptance.harness import Server
from tests.e2e.dashboard import VIEWPORT, by_testid, open_dashboard, shoot

SIGNING_KEY = "signkey-prod-" + "3c" * 32
DASHBOARD_KEY = "open-sesame-" + "5d" * 8
WRONG_KEY = "signkey-prod-" + "4d" * 32
ON_LOGIN = re.compile(r"/login")


@pytest.fixture(scope="module")
def selfhosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    args = ["--event-key", "e2e-event-key", "--signing-key", SIGNING_KEY]
    args += ["--dashboard-key", DASHBOARD_KEY]
    server = Server(tmp_path_factory.mktemp("e2e-start"), mode="start", args=args)
    server.start()
    yield server
    server.kill()


def log_in(page: Page, key: str) -> None:
    by_testid(page, "login-key").fill(key)
    by_testid(page, "login-submit").click()


def test_a_wrong_key_is_refused_and_the_signing_key_logs_in(page: Page, selfhosted: Server) -> None:
    open_dashboard(page, selfhosted)
    # Sent to the login page, with nothing of the dashboard shown.
    expect(page).to_have_url(ON_LOGIN)
    expect(by_testid(page, "login-key")).to_be_visible()
    expect(by_testid(page, "nav-runs")).to_have_count(0)
    shoot(page, "login")

    log_in(page, WRONG_KEY)
    expect(by_testid(page, "login-error")).to_be_visible()
    expect(by_testid(page, "login-key")).to_be_visible()
    expect(by_testid(page, "nav-runs")).to_have_count(0)
    # The REST API is as closed as the pages.
    assert page.request.get(f"{selfhosted.url}/v1/runs").status == 401

    log_in(page, SIGNING_KEY)
    expect(by_testid(page, "nav-runs")).to_be_visible()
    expect(page).not_to_have_url(ON_LOGIN)
    by_testid(page, "nav-runs").click()
    expect(by_testid(page, "runs-table")).to_be_visible()
    # The session opens the REST API to this browser too.
    assert page.request.get(f"{selfhosted.url}/v1/runs").ok


def test_the_dashboard_key_logs_in_and_a_new_browser_must_log_in_again(
    page: Page, browser: Browser, selfhosted: Server
) -> None:
    open_dashboard(page, selfhosted)
    expect(page).to_have_url(ON_LOGIN)
    log_in(page, DASHBOARD_KEY)
    expect(by_testid(page, "nav-events")).to_be_visible()
    by_testid(page, "nav-events").click()
    expect(by_testid(page, "events-table")).to_be_visible()

    # Another browser, without the session cookie, is sent to the login page.
    stranger = browser.new_context(viewport=VIEWPORT)
    try:
        elsewhere = stranger.new_page()
        elsewhere.goto(page.url)
        expect(elsewhere).to_have_url(ON_LOGIN)
        expect(by_testid(elsewhere, "login-key")).to_be_visible()
    finally:
        stranger.close()


def test_logging_out_ends_the_session_even_for_a_copied_cookie(
    page: Page, selfhosted: Server
) -> None:
    open_dashboard(page, selfhosted)
    log_in(page, DASHBOARD_KEY)
    expect(by_testid(page, "nav-runs")).to_be_visible()
    copied = {c["name"]: c["value"] for c in page.context.cookies() if "name" in c and "value" in c}
    runs = f"{selfhosted.url}/v1/runs"
    assert httpx.get(runs, cookies=copied, timeout=10).status_code == 200

    by_testid(page, "logout").click()
    expect(page).to_have_url(ON_LOGIN)
    expect(by_testid(page, "login-key")).to_be_visible()
    # The browser dropped the cookie; a copy of it is refused too.
    assert httpx.get(runs, cookies=copied, timeout=10).status_code == 401
