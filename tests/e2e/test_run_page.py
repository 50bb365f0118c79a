"""A run's page in a real browser: the timeline of a finished run with a sleep and a retried
step, and cancelling a sleeping run from the page (checked in the store), on each store."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import PageErrors, Stack
from tests.e2e.dashboard import by_testid, exactly, open_run, run_of, shoot

STEPS = ["load-order", "reserve-stock", "cool-down", "charge-card"]
# What tests/e2e/apps/dashboard_e2e_app.py returns and raises (importing the app here would
# serve it without a server to talk to).
ORDER_SKU = "SKU-TEAPOT-418"
CHARGE_ERROR = "card network timed out"


def open_step(timeline: Locator, name: str) -> None:
    """Click the step's name in its timeline row, as a reader would."""
    step = by_testid(timeline, "timeline-step", step_name=name)
    step.get_by_text(name, exact=True).first.click()


def details(page: Page, text: str) -> Locator:
    """The step detail that shows ``text`` (several steps' details may be open at once)."""
    return by_testid(page, "step-detail").filter(has_text=text)


def test_run_page_draws_each_step_and_each_attempt(page: Page, any_store_stack: Stack) -> None:
    server = any_store_stack.server
    [event_id] = server.send({"name": "e2e/checkout", "data": {"order": 42}})
    run = server.wait_run(event_id, "Completed", timeout=30)
    open_run(page, server, run["run_id"])

    expect(by_testid(page, "run-status")).to_have_text(exactly("Completed"))
    timeline = by_testid(page, "run-timeline")
    expect(timeline).to_be_visible()
    # One bar row per step, named as the function's code names it, in no other order.
    expect(by_testid(timeline, "timeline-step")).to_have_count(len(STEPS))
    for name in STEPS:
        expect(by_testid(timeline, "timeline-step", step_name=name)).to_have_count(1)

    # The step that failed once: two attempts, the first an error, the second ok.
    charge = by_testid(timeline, "timeline-step", step_name="charge-card")
    expect(charge).to_have_attribute("data-attempts", "2")
    attempts = by_testid(charge, "timeline-attempt")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_have_attribute("data-attempt", "0")
    expect(attempts.nth(0)).to_have_attribute("data-outcome", "error")
    expect(attempts.nth(1)).to_have_attribute("data-attempt", "1")
    expect(attempts.nth(1)).to_have_attribute("data-outcome", "ok")
    # Every other step ran once.
    for name in ("load-order", "reserve-stock"):
        step = by_testid(timeline, "timeline-step", step_name=name)
        expect(step).to_have_attribute("data-attempts", "1")
        expect(by_testid(step, "timeline-attempt", outcome="ok")).to_have_count(1)
    nap = by_testid(timeline, "timeline-step", step_name="cool-down")
    expect(by_testid(nap, "timeline-attempt")).to_have_count(1)

    # Drawn to scale: the two-second sleep is the longest bar, and the steps after it start
    # further right than the ones before it.
    boxes = {}
    for name in STEPS:
        bar = by_testid(by_testid(timeline, "timeline-step", step_name=name), "timeline-attempt")
        box = bar.last.bounding_box()
        assert box is not None and box["width"] > 0, f"the bar of {name} is not drawn: {box}"
        boxes[name] = box
    widest = max(boxes, key=lambda name: boxes[name]["width"])
    assert widest == "cool-down", f"the sleep should be the longest bar: {boxes}"
    assert boxes["charge-card"]["x"] > boxes["load-order"]["x"], boxes

    # Clicking a step opens its detail: its output (here the first step's result) ...
    open_step(timeline, "load-order")
    expect(details(page, ORDER_SKU)).to_be_visible()
    open_step(timeline, "load-order")  # closed again, to keep the screenshot to the point
    # ... and the retried step's detail: what it returned in the end, and the first
    # attempt's error.
    open_step(timeline, "charge-card")
    charged = details(page, "4200")
    expect(charged).to_be_visible()
    expect(charged).to_contain_text(CHARGE_ERROR)
    timeline.evaluate("el => el.scrollIntoView({block: 'start'})")
    shoot(page, "run")


def test_cancel_a_sleeping_run_from_its_page(
    page: Page, page_errors: PageErrors, any_store_stack: Stack
) -> None:
    server = any_store_stack.server
    [event_id] = server.send({"name": "e2e/hibernate", "data": {}})
    server.wait_step(event_id, "an-hour", "sleeping", timeout=20)
    run_id = run_of(server, event_id)
    open_run(page, server, run_id)
    expect(by_testid(page, "run-status")).to_have_text(exactly("Running"))

    by_testid(page, "cancel-run").click()
    # The page asked first (hx-confirm; the fixture accepts), then shows the new status.
    expect(by_testid(page, "run-status")).to_have_text(exactly("Cancelled"))
    assert any(d.startswith("confirm:") for d in page_errors.dialogs), page_errors.dialogs
    # The store agrees.
    assert server.get(f"/v1/runs/{run_id}")["status"] == "Cancelled"
