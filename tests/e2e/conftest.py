"""Browser fixtures: Debian's Chromium driven by Playwright (sync API), and real ``outlast``
server and app processes (the acceptance harness) for the dashboard to show.

The tests are plain ``def`` functions: Playwright's sync API runs its own event loop and
refuses to start inside a running one, so none of these fixtures or tests is async.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.acceptance.harness import App, Server
from tests.conftest import (
    IN_CI,
    ON_POSTGRES,
    POSTGRES_URI,
    drop_schema,
    new_schema,
    require_postgres,
)
from tests.e2e.dashboard import CHROMIUM, DEFAULT_TIMEOUT_MS, VIEWPORT

if TYPE_CHECKING:  # imported lazily below: without Playwright the tests skip, not break
    from playwright.sync_api import Browser, Dialog, Page, Playwright

APP = "tests.e2e.apps.dashboard_e2e_app:app"


def chromium_problem() -> str | None:
    """None when the browser tests can run, else why not."""
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"Debian's chromium is not installed at {CHROMIUM} "
            "(bash scripts/test.sh installs it: apt-get install -y chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is missing (pip install -e '.[dev]'): {exc}"
    return None


def require_chromium() -> None:
    """Skip without a browser on a developer machine; fail in CI, where they must run."""
    problem = chromium_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI must run the browser tests: {problem}")
    pytest.skip(problem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Kept on the item so the page fixture can save a picture of a failed test's page.
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


# Module scope, not package: tests/ has no __init__.py, so a "package" fixture here would
# live to the end of the session, and while Playwright's sync API lives it marks its loop
# as running on this thread, which breaks every async test that runs after these.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    args = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        # This machine's network is closed: without these Chromium keeps dialling Google.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    if os.geteuid() == 0:  # Chromium refuses to start its sandbox as root
        args.append("--no-sandbox")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    yield browser
    browser.close()


@dataclass
class PageErrors:
    """What went wrong inside the page: uncaught script errors, and the dialogs it opened."""

    uncaught: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def page(
    browser: Browser, page_errors: PageErrors, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A fresh 1280x800 page that accepts every confirm dialog (htmx ``hx-confirm``)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)

    def on_dialog(dialog: Dialog) -> None:
        page_errors.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.accept()

    def watch(p: Page) -> None:
        p.on("dialog", on_dialog)
        p.on("pageerror", lambda exc: page_errors.uncaught.append(f"{p.url}: {exc}"))

    context.on("page", watch)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "e2e_report_call", None)
    if failed is not None and failed.failed:
        for n, open_page in enumerate(context.pages):
            open_page.screenshot(path=tmp_path / f"failure-{n}.png")
        print(f"the pages at the failure: {tmp_path}/failure-*.png")
    context.close()
    assert not page_errors.uncaught, f"script errors in the page: {page_errors.uncaught}"


# -- the system under test ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """An ``outlast`` server and the e2e app, synced to it."""

    server: Server
    app: App


def start_stack(tmp: Path, **server_kwargs: Any) -> Iterator[Stack]:
    server = Server(tmp, **server_kwargs)
    server.start()
    try:
        app = App(tmp, APP, env={"OUTLAST_DEV": server.url})
        app.start()
        try:
            app.sync(server)
            yield Stack(server, app)
        finally:
            app.kill()
    finally:
        server.kill()


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """``outlast dev`` on SQLite with the e2e app, shared by the tests of a module."""
    yield from start_stack(tmp_path_factory.mktemp("e2e-sqlite"))


@pytest.fixture(scope="module", params=["sqlite", ON_POSTGRES])
def any_store_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """``outlast dev`` on each store (SQLite, then a fresh PostgreSQL schema) with the app."""
    tmp = tmp_path_factory.mktemp(f"e2e-{request.param}")
    if request.param == "sqlite":
        yield from start_stack(tmp)
        return
    require_postgres()
    schema = new_schema()
    try:
        yield from start_stack(tmp, postgres_uri=POSTGRES_URI, postgres_schema=schema)
    finally:
        # Playwright's sync API marks its own loop as running on this thread between calls.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, drop_schema(schema)).result()
