"""Every dashboard page in a real browser, reached by clicking from the home page, with the
README's screenshots; and an event sent from the events page whose run shows up in an open
runs list without a reload."""

from __future__ import annotations

import json
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.acceptance.harness import Server, wait_for
from tests.e2e.conftest import Stack
from tests.e2e.dashboard import (
    by_testid,
    event_with,
    follow_nav,
    marker,
    open_dashboard,
    open_row,
    run_of,
    set_marker,
    shoot,
)

APP_ID = "dashboard-e2e"
FUNCTIONS = [f"{APP_ID}-checkout", f"{APP_ID}-hibernate", f"{APP_ID}-greet"]


def test_apps_functions_and_runs_pages(page: Page, dev_stack: Stack) -> None:
    server, app = dev_stack.server, dev_stack.app
    [event_id] = server.send({"name": "e2e/checkout", "data": {"order": 7}})
    run_id = server.wait_run(event_id, "Completed", timeout=30)["run_id"]
    open_dashboard(page, server)

    # Apps: the synced app, with the URL it is served at.
    follow_nav(page, "apps")
    row = by_testid(page, "app-row", app_id=APP_ID)
    expect(row).to_be_visible()
    expect(row).to_contain_text(app.url)
    expect(by_testid(row, "resync-app")).to_be_visible()
    expect(by_testid(page, "add-app-url")).to_be_visible()
    expect(by_testid(page, "add-app-submit")).to_be_visible()
    shoot(page, "apps")

    # Functions: one row per function of the app.
    follow_nav(page, "functions")
    for function_id in FUNCTIONS:
        expect(by_testid(page, "function-row", function_id=function_id)).to_be_visible()
    shoot(page, "functions")

    # A function's page: its trigger and options, the invoke form, its runs.
    open_row(page, by_testid(page, "function-row", function_id=f"{APP_ID}-checkout"))
    config = by_testid(page, "function-config")
    expect(config).to_contain_text("e2e/checkout")
    expect(by_testid(page, "invoke-form")).to_be_visible()
    expect(by_testid(page, "invoke-payload")).to_be_editable()
    expect(by_testid(page, "invoke-submit")).to_be_visible()
    expect(by_testid(page, "pause-function")).to_be_visible()
    expect(by_testid(by_testid(page, "function-runs"), "run-row", run_id=run_id)).to_be_visible()
    shoot(page, "function")

    # Runs: the finished run, its status in the row.
    follow_nav(page, "runs")
    table = by_testid(page, "runs-table")
    expect(table).to_be_visible()
    expect(by_testid(page, "runs-filter")).to_be_visible()
    expect(by_testid(table, "run-row", run_id=run_id)).to_have_attribute("data-status", "completed")
    shoot(page, "runs")


def test_an_event_sent_from_the_form_shows_its_run_live(page: Page, dev_stack: Stack) -> None:
    server = dev_stack.server
    # The runs list stays open in one tab; a marker on its window tells if it reloaded.
    open_dashboard(page, server)
    follow_nav(page, "runs")
    expect(by_testid(page, "runs-table")).to_be_visible()
    set_marker(page, "runs list")

    events = page.context.new_page()
    open_dashboard(events, server)
    follow_nav(events, "events")
    expect(by_testid(events, "events-table")).to_be_visible()
    set_marker(events, "events page")
    name = f"Ada-{uuid.uuid4().hex[:8]}"
    form = by_testid(events, "send-event-form")
    by_testid(form, "event-name").fill("e2e/greet")
    by_testid(form, "event-data").fill(json.dumps({"name": name}))
    by_testid(form, "send-event-submit").click()

    # The store has the event and its run; both open pages show the run by themselves.
    event_id = event_with(server, "e2e/greet", "name", name)
    run_id = run_of(server, event_id)
    expect(by_testid(page, "run-row", run_id=run_id)).to_be_visible()
    expect(by_testid(events, "run-row", run_id=run_id)).to_be_visible()
    assert marker(page) == "runs list", "the runs list reloaded instead of updating live"
    assert marker(events) == "events page", "sending the event reloaded the events page"
    server.wait_run(event_id, "Completed", timeout=20)
    # The row in the open runs list follows the run's status too.
    expect(by_testid(page, "run-row", run_id=run_id)).to_have_attribute("data-status", "completed")

    # The events list has the event; its page shows the payload and the run it started.
    follow_nav(events, "events")
    event_row = by_testid(events, "event-row", event_id=event_id)
    expect(event_row).to_be_visible()
    shoot(events, "events")
    open_row(events, event_row)
    expect(by_testid(events, "event-payload")).to_contain_text(name)
    expect(by_testid(by_testid(events, "event-runs"), "run-row", run_id=run_id)).to_be_visible()
    expect(by_testid(events, "replay-event")).to_be_visible()
    shoot(events, "event")


def test_invoke_pause_and_resume_from_the_function_page(page: Page, dev_stack: Stack) -> None:
    server = dev_stack.server
    # Invoke with a payload: the run gets it, and the page shows the new run.
    open_function(page, server, f"{APP_ID}-greet")
    name = f"Grace-{uuid.uuid4().hex[:8]}"
    by_testid(page, "invoke-payload").fill(json.dumps({"name": name}))
    by_testid(page, "invoke-submit").click()
    run_id = wait_for(
        lambda: next(
            (
                r["run_id"]
                for r in server.get(f"/v1/runs?function_id={APP_ID}-greet")
                if r["output"] == f"hello, {name}"
            ),
            None,
        ),
        20,
        f"the invoked run to greet {name}",
    )
    expect(page.locator(f'[data-run-id="{run_id}"]').first).to_be_visible()

    # Paused (after a confirm), the function starts no run: the event's page says why.
    hibernate = f"{APP_ID}-hibernate"
    open_function(page, server, hibernate)
    try:
        by_testid(page, "pause-function").click()
        expect(by_testid(page, "resume-function")).to_be_visible()
        [paused_event] = server.send({"name": "e2e/hibernate", "data": {}})
        open_dashboard(page, server)
        follow_nav(page, "events")
        open_row(page, by_testid(page, "event-row", event_id=paused_event))
        skip = by_testid(page, "event-skips")
        expect(skip).to_contain_text(hibernate)
        expect(skip).to_contain_text("paused")
        assert server.runs_for(paused_event) == []

        # Resumed, it runs again.
        open_function(page, server, hibernate)
        by_testid(page, "resume-function").click()
        expect(by_testid(page, "pause-function")).to_be_visible()
    finally:
        # The server is shared by this module's tests: never leave the function paused.
        r = httpx.post(f"{server.url}/v1/functions/{hibernate}/resume", timeout=10)
        assert r.status_code == 200, r.text
    [event_id] = server.send({"name": "e2e/hibernate", "data": {}})
    server.wait_step(event_id, "an-hour", "sleeping", timeout=20)


def open_function(page: Page, server: Server, function_id: str) -> None:
    open_dashboard(page, server)
    follow_nav(page, "functions")
    open_row(page, by_testid(page, "function-row", function_id=function_id))
    expect(by_testid(page, "function-config")).to_be_visible()
