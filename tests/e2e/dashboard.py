"""Helpers for driving the dashboard: find things by their ``data-testid``, go from page to
page as a person would (nav links, then rows), take the README's screenshots.

The tests go everywhere by clicking, never by typing a dashboard URL, so they hold whatever
the pages' paths are; only the ``data-testid`` contract (README of issue 6) binds them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.acceptance.harness import ROOT, Server, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
#: Every wait of a locator or an ``expect`` ends after this long (milliseconds).
DEFAULT_TIMEOUT_MS = 10_000
#: A marker the tests set on ``window``: it survives only while no navigation happens.
MARKER_JS = "window.__outlastE2eMarker"


def by_testid(scope: Page | Locator, testid: str, **attrs: str) -> Locator:
    """Elements with ``data-testid=testid`` and each ``data-<name>=value`` of ``attrs``
    (underscores in a name become dashes: ``run_id`` matches ``data-run-id``)."""
    selector = f'[data-testid="{testid}"]'
    for name, value in attrs.items():
        selector += f'[data-{name.replace("_", "-")}="{value}"]'
    return scope.locator(selector)


def shoot(page: Page, name: str) -> Path:
    """Save what the page shows (the 1280x800 viewport) as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Hide the caret and finish CSS animations so two runs of a test draw the same pixels.
    page.screenshot(path=path, animations="disabled", caret="hide")
    return path


def open_dashboard(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/")


def follow_nav(page: Page, which: str) -> None:
    """Click the ``nav-<which>`` link (apps, functions, runs, events) and wait for the page."""
    by_testid(page, f"nav-{which}").first.click()
    page.wait_for_load_state()


def open_row(page: Page, row: Locator) -> None:
    """Open what a list row points at: its first link, or the row itself when it has none."""
    row.wait_for()  # the row must be there before we ask whether it has a link
    link = row.locator("a[href]")
    target = link.first if link.count() else row
    target.click()
    page.wait_for_load_state()


def open_run(page: Page, server: Server, run_id: str) -> None:
    """Dashboard home → runs list → the run's row → the run's page."""
    open_dashboard(page, server)
    follow_nav(page, "runs")
    row = by_testid(page, "run-row", run_id=run_id)
    open_row(page, row)
    by_testid(page, "run-status").wait_for()


def set_marker(page: Page, value: str) -> None:
    page.evaluate(f"{MARKER_JS} = {value!r}")


def marker(page: Page) -> Any:
    return page.evaluate(MARKER_JS)


def exactly(text: str) -> re.Pattern[str]:
    """A pattern matching ``text`` alone, give or take surrounding whitespace."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


# -- the same facts through the REST API (that is, from the store) -------------------------------


def run_of(server: Server, event_id: str, timeout: float = 15) -> str:
    """The id of the run the event started, once there is one."""
    runs = wait_for(lambda: server.runs_for(event_id), timeout, f"a run of event {event_id}")
    run_id: str = runs[0]["run_id"]
    return run_id


def event_with(server: Server, name: str, key: str, value: str, timeout: float = 15) -> str:
    """The internal id of the event named ``name`` whose ``data[key]`` is ``value``."""

    def find() -> str | None:
        for event in server.get(f"/v1/events?name={name}&limit=100"):
            if event.get("data", {}).get(key) == value:
                found: str = event["internal_id"]
                return found
        return None

    return wait_for(find, timeout, f"event {name} with data.{key} = {value!r}")
