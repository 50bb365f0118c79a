"""The dashboard without a browser: every page answers 200 with the store's data, every
action changes the store (through the same engine calls as the REST API), bad input is an
error on the page (never a 500), and ``outlast start`` wants a login. Real server and app
processes, on SQLite and PostgreSQL; the browser tests are in tests/e2e."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import App, Server, wait_for

APP = "tests.acceptance.apps.dashboard_app:app"
APP_ID = "dash-app"
STEPS = f"{APP_ID}-steps"
SLEEPER = f"{APP_ID}-sleeper"
ECHO = f"{APP_ID}-echo"
PICKY = f"{APP_ID}-picky"
SIGNING_KEY = "6f" * 32
DASHBOARD_KEY = "dashboard-key-" + "7a" * 8


class _TestIds(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "data-testid" in values:
            self.found.append(values)


def by_testid(html: str, testid: str, **attrs: str) -> list[dict[str, str]]:
    """The attributes of each element with ``data-testid=testid`` (and ``data-<k>=v``)."""
    parser = _TestIds()
    parser.feed(html)
    return [
        e
        for e in parser.found
        if e["data-testid"] == testid
        and all(e.get(f"data-{k.replace('_', '-')}") == v for k, v in attrs.items())
    ]


def page(server: Server, path: str, status: int = 200, **headers: str) -> str:
    r = httpx.get(f"{server.url}{path}", headers=headers, timeout=10)
    assert r.status_code == status, f"{path}: {r.status_code} {r.text[:2000]}"
    assert r.headers["content-type"].startswith("text/html"), r.headers
    return r.text


def act(
    server: Server,
    path: str,
    data: dict[str, str] | None = None,
    *,
    htmx: bool = False,
    origin: str | None = "self",
    cookies: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a dashboard form as the page does (from the server's own origin)."""
    headers = {} if origin is None else {"origin": server.url if origin == "self" else origin}
    if htmx:
        headers["hx-request"] = "true"
    return httpx.post(
        f"{server.url}{path}", data=data or {}, headers=headers, cookies=cookies, timeout=40
    )


def redirected(response: httpx.Response, to: str | None = None) -> str:
    assert response.status_code == 303, f"{response.status_code} {response.text[:2000]}"
    location = response.headers["location"]
    if to is not None:
        assert location == to
    return location


def refused(response: httpx.Response, status: int, words: str) -> None:
    """An action's error: the status, and the message on the page (htmx: the fragment)."""
    assert response.status_code == status, f"{response.status_code} {response.text[:2000]}"
    assert response.headers["content-type"].startswith("text/html")
    assert words in response.text, response.text[:2000]
    testid = "action-error" if 'data-testid="action-error"' in response.text else "page-error"
    assert by_testid(response.text, testid), response.text[:2000]


def wait_status(server: Server, run_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        run: dict[str, Any] = server.get(f"/v1/runs/{run_id}")
        return run if run["status"] == status else None

    return wait_for(check, timeout, f"run {run_id} to be {status}\n{server.log()}")


def synced_at(html: str) -> list[str]:
    return re.findall(r'data-testid="app-synced-at">([^<]*)<', html)


def synced(server: Server, make_app: MakeApp) -> App:
    app = make_app(APP, env={"OUTLAST_DEV": server.url})
    app.sync(server)
    return app


def test_every_page_shows_the_stores_data(
    make_server: MakeServer, make_app: MakeApp, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    app = synced(server, make_app)
    [event_id] = server.send({"name": "dash/steps", "data": {"n": 4}})
    run = server.wait_run(event_id, "Completed")
    run_id = run["run_id"]
    [filtered] = server.send({"name": "dash/picky", "data": {"go": False}})

    assert httpx.get(f"{server.url}/", timeout=10).headers["location"] == "/runs"
    apps = page(server, "/apps")
    assert len(by_testid(apps, "app-row", app_id=APP_ID)) == 1
    assert app.url in apps and by_testid(apps, "resync-app") and by_testid(apps, "add-app-url")
    for nav in ("nav-apps", "nav-functions", "nav-runs", "nav-events"):
        assert by_testid(apps, nav)

    functions = page(server, "/functions")
    for fid in (STEPS, SLEEPER, ECHO, PICKY):
        assert by_testid(functions, "function-row", function_id=fid)
    assert "100% (1 of 1)" in functions  # steps: its one run completed in the last 24 h
    assert "dash/picky if event.data.go == true" in functions

    fn = page(server, f"/functions/{STEPS}")
    assert by_testid(fn, "function-config") and by_testid(fn, "invoke-form")
    assert by_testid(fn, "invoke-payload") and by_testid(fn, "pause-function")
    assert by_testid(fn, "run-row", run_id=run_id, status="completed")
    assert "dash/steps" in fn and "<code>2</code>" in fn  # the trigger; retries=2

    runs = page(server, "/runs")
    assert by_testid(runs, "runs-table") and by_testid(runs, "runs-filter")
    assert by_testid(runs, "run-row", run_id=run_id, status="completed")
    # Filters: by function, status and time; a later time keeps none.
    assert by_testid(page(server, f"/runs?function_id={STEPS}&status=completed"), "run-row")
    assert not by_testid(page(server, f"/runs?function_id={ECHO}"), "run-row")
    assert by_testid(page(server, "/runs?since=2000-01-01T00:00&until=2999-01-01T00:00"), "run-row")
    assert not by_testid(page(server, "/runs?since=2999-01-01T00:00"), "run-row")
    assert not by_testid(page(server, f"/runs?before={run_id}"), "run-row", run_id=run_id)

    detail = page(server, f"/runs/{run_id}")
    [status] = by_testid(detail, "run-status")
    assert status["data-status"] == "completed"
    assert re.search(r'data-testid="run-status"[^>]*>\s*Completed\s*<', detail)
    assert by_testid(detail, "run-timeline") and by_testid(detail, "rerun-run")
    assert not by_testid(detail, "cancel-run")  # finished
    steps = {s["data-step-name"]: s for s in by_testid(detail, "timeline-step")}
    assert list(steps) == ["first", "nap", "flaky"]
    assert steps["flaky"]["data-attempts"] == "2" and steps["first"]["data-attempts"] == "1"
    bars = by_testid(detail, "timeline-attempt")
    assert [(b["data-attempt"], b["data-outcome"]) for b in bars] == [
        ("0", "ok"),  # first
        ("0", "ok"),  # nap, slept
        ("0", "error"),  # flaky, then retried
        ("1", "ok"),
    ]
    assert "the flaky step failed on purpose" in detail and "Traceback" in detail
    assert len(by_testid(detail, "rerun-from-step")) == 3

    events = page(server, "/events")
    assert by_testid(events, "events-table") and by_testid(events, "send-event-form")
    assert by_testid(events, "event-row", event_id=event_id)
    event = page(server, f"/events/{event_id}")
    assert by_testid(event, "event-payload") and by_testid(event, "replay-event")
    assert by_testid(event, "event-runs") and by_testid(event, "run-row", run_id=run_id)
    # An event a trigger's expression refused says so.
    skipped = page(server, f"/events/{filtered}")
    assert not by_testid(skipped, "event-runs")
    assert by_testid(skipped, "event-skip", function_id=PICKY, reason="filtered")


def sse_messages(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) of each message of a server-sent event stream."""
    fields: dict[str, list[str]] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
            continue
        if "event" in fields:
            yield fields["event"][0], fields["id"][0], "\n".join(fields.get("data", []))
        fields = {}


def first_update(server: Server, path: str, event: str, **headers: str) -> tuple[str, str]:
    """The (id, data) of the first ``event`` message a live stream sends."""
    with httpx.stream("GET", f"{server.url}{path}", headers=headers, timeout=20) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for name, sig, data in sse_messages(stream.iter_lines()):
            if name == event:
                return sig, data
    raise AssertionError(f"{path}: the stream ended without a {event!r} message")


def live_url(html: str) -> str:
    [url] = re.findall(r'sse-connect="([^"]+)"', html)
    return url.replace("&amp;", "&")


def test_lists_update_live_over_server_sent_events(
    make_server: MakeServer, make_app: MakeApp, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    synced(server, make_app)
    runs_live = live_url(page(server, f"/runs?function_id={SLEEPER}"))
    events_live = live_url(page(server, "/events"))
    [event_id] = server.send({"name": "dash/sleep", "data": {}})
    [run] = server.runs_for(event_id)
    run_id = run["run_id"]
    # Rendered before the run existed: the stream sends the list with it.
    sig, rows = first_update(server, runs_live, "runs")
    [row] = by_testid(rows, "run-row")
    assert row["data-run-id"] == run_id and row["data-status"] in ("queued", "running")
    _, rows = first_update(server, events_live, "events")
    assert by_testid(rows, "event-row", event_id=event_id)
    # A browser reconnecting with the last id it got hears nothing until the list changes:
    # here, the run's status.
    server.wait_step(event_id, "an-hour", "sleeping")
    cancel = httpx.post(
        f"{server.url}/runs/{run_id}/cancel", headers={"origin": server.url}, timeout=10
    )
    assert cancel.status_code == 303
    new_sig, rows = first_update(server, runs_live, "runs", **{"last-event-id": sig})
    assert new_sig != sig
    assert by_testid(rows, "run-row", run_id=run_id, status="cancelled")
    # An event's page follows its runs too.
    _, outcome = first_update(server, f"/live/events/{event_id}", "outcome")
    assert by_testid(outcome, "run-row", run_id=run_id, status="cancelled")
    # Not on a later page, nor with filters that make no sense.
    assert "sse-connect" not in page(server, f"/runs?before={run_id}")
    assert httpx.get(f"{server.url}/live/runs?status=nope", timeout=10).status_code == 400


def test_each_action_changes_the_store(
    make_server: MakeServer, make_app: MakeApp, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    app = make_app(APP, env={"OUTLAST_DEV": server.url})

    # Add an app by URL: the server asks it to sync.
    assert not by_testid(page(server, "/apps"), "app-row")
    redirected(act(server, "/apps", {"url": app.url}), "/apps")
    [first_sync] = synced_at(page(server, "/apps"))
    assert by_testid(page(server, "/functions"), "function-row", function_id=STEPS)
    # Resync: synced again (htmx is sent where to go).
    r = act(server, f"/apps/{APP_ID}/resync", htmx=True)
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/apps"
    assert synced_at(page(server, "/apps")) != [first_sync]

    # Send an event from the form: stored, and its run started.
    sent = act(server, "/events", {"name": "dash/steps", "data": '{"n": 5}'}, htmx=True)
    assert sent.status_code == 200, sent.text
    [marker] = by_testid(sent.text, "sent-event")
    event_id = marker["data-event-id"]
    assert server.get(f"/v1/events/{event_id}")["data"] == {"n": 5}
    [row] = by_testid(sent.text, "run-row")
    run_id = row["data-run-id"]
    assert wait_status(server, run_id, "Completed")["output"] == {"n": 5, "result": 50}
    # Without htmx, the form goes to the event's page.
    plain = act(server, "/events", {"name": "dash/echo", "data": ""})
    assert redirected(plain).startswith("/events/")

    # Rerun, and rerun from a step: new runs of the same event.
    rerun = redirected(act(server, f"/runs/{run_id}/rerun"))
    new_id = rerun.removeprefix("/runs/")
    assert wait_status(server, new_id, "Completed")["original_run_id"] == run_id
    steps = {s["name"]: s["id"] for s in server.get(f"/v1/runs/{run_id}")["steps"]}
    again = redirected(act(server, f"/runs/{run_id}/rerun", {"from_step": steps["flaky"]}))
    from_flaky = wait_status(server, again.removeprefix("/runs/"), "Completed")
    kept = [s for s in from_flaky["steps"] if s["name"] in ("first", "nap")]
    assert len(kept) == 2 and from_flaky["output"] == {"n": 5, "result": 50}

    # Replay the event: one more run of it.
    redirected(act(server, f"/events/{event_id}/replay"), f"/events/{event_id}")
    assert len(server.runs_for(event_id)) == 4  # the run, two reruns, the replay

    # Cancel a sleeping run.
    [sleepy] = server.send({"name": "dash/sleep", "data": {}})
    server.wait_step(sleepy, "an-hour", "sleeping")
    [sleeping] = server.runs_for(sleepy)
    r = act(server, f"/runs/{sleeping['run_id']}/cancel", htmx=True)
    assert r.status_code == 200 and r.headers["hx-redirect"] == f"/runs/{sleeping['run_id']}"
    assert server.get(f"/v1/runs/{sleeping['run_id']}")["status"] == "Cancelled"

    # Pause: events start no run (and the event says why); resume: they do again.
    redirected(act(server, f"/functions/{ECHO}/pause"), f"/functions/{ECHO}")
    assert by_testid(page(server, "/functions"), "function-row", function_id=ECHO, paused="true")
    [while_paused] = server.send({"name": "dash/echo", "data": {}})
    assert server.runs_for(while_paused) == []
    assert by_testid(page(server, f"/events/{while_paused}"), "event-skip", reason="paused")
    assert by_testid(page(server, f"/functions/{ECHO}"), "resume-function")
    redirected(act(server, f"/functions/{ECHO}/resume"), f"/functions/{ECHO}")
    [after] = server.send({"name": "dash/echo", "data": {}})
    assert len(server.runs_for(after)) == 1

    # Invoke with a JSON payload: a run of the function with that data.
    invoked = redirected(act(server, f"/functions/{ECHO}/invoke", {"payload": '{"x": [1, 2]}'}))
    echo = wait_status(server, invoked.removeprefix("/runs/"), "Completed")
    assert echo["output"]["event"] == "inngest/function.invoked"
    assert echo["output"]["data"]["x"] == [1, 2]

    # A resync that fails records the error on the app.
    app.kill()
    refused(act(server, f"/apps/{APP_ID}/resync"), 502, "cannot reach")
    apps = page(server, "/apps")
    assert by_testid(apps, "app-row", app_id=APP_ID)
    assert re.search(r'data-testid="app-error"><span class="flash error">cannot reach', apps)


def test_bad_input_is_an_error_on_the_page_not_a_500(
    make_server: MakeServer, make_app: MakeApp, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    synced(server, make_app)
    missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    for path in (f"/runs/{missing}", f"/events/{missing}", "/functions/nope"):
        assert "not found" in page(server, path, 404)
    assert "unknown status" in page(server, "/runs?status=sideways", 400)
    assert "not a date" in page(server, "/runs?since=yesterday", 400)
    assert "earlier than" in page(server, "/runs?since=2020-01-02&until=2020-01-01", 400)

    invoke = f"/functions/{ECHO}/invoke"
    refused(act(server, invoke, {"payload": '{"x": '}), 400, "not valid JSON")
    refused(act(server, invoke, {"payload": "[1, 2]"}, htmx=True), 400, "must be a JSON object")
    refused(act(server, "/functions/nope/invoke", {"payload": "{}"}), 404, "not synced")
    refused(act(server, f"/runs/{missing}/cancel"), 404, "run not found")
    refused(act(server, f"/runs/{missing}/rerun"), 404, "not found")
    refused(act(server, f"/events/{missing}/replay"), 404, "not found")
    refused(act(server, "/functions/nope/pause"), 404, "not found")
    refused(act(server, "/events", {"name": "", "data": "{}"}), 400, "enter the event")
    refused(act(server, "/events", {"name": "x", "data": "{oops"}), 400, "not valid JSON")
    refused(act(server, "/events", {"name": "inngest/x", "data": "{}"}), 400, "reserved")
    refused(act(server, "/apps", {"url": "not a url"}), 400, "not an http(s) URL")
    refused(act(server, "/apps", {"url": "http://127.0.0.1:9/nothing"}), 502, "cannot reach")
    refused(act(server, "/apps/nope/resync"), 404, "not found")

    [event_id] = server.send({"name": "dash/steps", "data": {"n": 1}})
    run_id = server.wait_run(event_id, "Completed")["run_id"]
    refused(act(server, f"/runs/{run_id}/cancel"), 409, "already completed")
    refused(act(server, f"/runs/{run_id}/rerun", {"from_step": "nope"}), 400, "has no step")
    # Not from the dashboard's own pages (CSRF), or not a form: refused.
    refused(act(server, f"/runs/{run_id}/rerun", origin=None), 403, "own pages")
    refused(act(server, f"/runs/{run_id}/rerun", origin="http://evil.test"), 403, "another site")
    r = httpx.post(
        f"{server.url}/events",
        json={"name": "x"},
        headers={"origin": server.url},
        timeout=10,
    )
    refused(r, 415, "URL-encoded")
    # Payloads are data, never markup.
    [xss] = server.send({"name": "dash/echo", "data": {"html": "<script>alert(1)</script>"}})
    shown = page(server, f"/events/{xss}")
    assert "<script>alert(1)</script>" not in shown and "&lt;script&gt;" in shown


def test_start_mode_wants_a_login(make_server: MakeServer) -> None:
    args = ["--event-key", "ek", "--signing-key", SIGNING_KEY, "--dashboard-key", DASHBOARD_KEY]
    server = make_server(mode="start", args=args)

    # Nothing without a login: pages send to the login form, the rest is refused.
    r = httpx.get(f"{server.url}/runs?status=failed", timeout=10)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert by_testid(page(server, "/login"), "login-key")
    assert httpx.get(f"{server.url}/live/runs", timeout=10).status_code == 401
    assert act(server, "/events", {"name": "x"}).status_code == 401
    assert httpx.get(f"{server.url}/v1/runs", timeout=10).status_code == 401

    # A wrong key: the form again, with the reason.
    wrong = act(server, "/login", {"key": "nope", "next": "/events"})
    assert wrong.status_code == 401 and by_testid(wrong.text, "login-error")
    # Login from another site is refused too.
    assert (
        act(server, "/login", {"key": DASHBOARD_KEY}, origin="http://evil.test").status_code == 403
    )

    for key in (DASHBOARD_KEY, SIGNING_KEY):
        ok = act(server, "/login", {"key": key, "next": "/events"})
        assert redirected(ok) == "/events"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert key not in cookie and key.lower() not in cookie.lower()
        session = {"outlast_session": ok.cookies["outlast_session"]}
        for path in ("/runs", "/events", "/apps", "/functions"):
            r = httpx.get(f"{server.url}{path}", cookies=session, timeout=10)
            assert r.status_code == 200, (path, r.text[:500])
        # The REST API takes the session (its changes only from the dashboard's pages).
        assert httpx.get(f"{server.url}/v1/runs", cookies=session, timeout=10).status_code == 200
        run_path = f"{server.url}/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV"
        assert httpx.delete(run_path, cookies=session, timeout=10).status_code == 403
        headers = {"origin": server.url}
        r = httpx.delete(run_path, cookies=session, headers=headers, timeout=10)
        assert r.status_code == 404  # past the checks
        sent = act(server, "/events", {"name": "dash/x", "data": "{}"}, cookies=session)
        assert redirected(sent).startswith("/events/")

    # A forged or expired cookie opens nothing.
    for forged in ("9999999999.00", "1." + "0" * 64, "garbage"):
        r = httpx.get(f"{server.url}/runs", cookies={"outlast_session": forged}, timeout=10)
        assert r.status_code == 303
    # The REST API also takes the dashboard key as a Bearer token; a wrong one is refused.
    bearer = {"authorization": f"Bearer {DASHBOARD_KEY}"}
    assert httpx.get(f"{server.url}/v1/runs", headers=bearer, timeout=10).status_code == 200
    bad = {"authorization": "Bearer not-the-key"}
    r = httpx.get(f"{server.url}/v1/runs", headers=bad, timeout=10)
    assert r.status_code == 401 and "invalid signing key" in r.json()["error"]
    # Log out: the cookie is cleared.
    out = act(server, "/logout")
    assert redirected(out) == "/login" and 'outlast_session=""' in out.headers["set-cookie"]


def test_logins_are_rate_limited_and_a_logout_ends_its_session(
    make_server: MakeServer, backend: dict[str, Any]
) -> None:
    args = ["--event-key", "ek", "--signing-key", SIGNING_KEY, "--dashboard-key", DASHBOARD_KEY]
    server = make_server(mode="start", args=args, **backend)

    def cookie(response: httpx.Response) -> dict[str, str]:
        redirected(response)
        return {"outlast_session": response.cookies["outlast_session"]}

    def rest(session: dict[str, str]) -> int:
        return httpx.get(f"{server.url}/v1/runs", cookies=session, timeout=10).status_code

    # Two logins (within a second): two sessions; logging one out leaves the other open.
    first = cookie(act(server, "/login", {"key": DASHBOARD_KEY}))
    second = cookie(act(server, "/login", {"key": DASHBOARD_KEY}))
    assert first != second
    assert rest(first) == 200 and rest(second) == 200
    assert redirected(act(server, "/logout", cookies=first)) == "/login"
    # The logged-out cookie, kept by whoever copied it, opens nothing.
    assert rest(first) == 401
    r = httpx.get(f"{server.url}/runs", cookies=first, timeout=10)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert httpx.get(f"{server.url}/live/runs", cookies=first, timeout=10).status_code == 401
    assert rest(second) == 200

    # The sessions are in the store: a restarted server keeps both the logout and the login.
    server.kill()
    server = make_server(mode="start", args=args, **backend)
    assert rest(first) == 401 and rest(second) == 200

    # Guessing keys: a few wrong ones are answered 401, then 429 with Retry-After, and past
    # the limit not even the right key is looked at.
    answers = [act(server, "/login", {"key": f"guess-{i:04d}"}) for i in range(30)]
    statuses = [a.status_code for a in answers]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}, statuses
    limited = answers[-1]
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert by_testid(limited.text, "login-error") and "Too many wrong keys" in limited.text
    assert act(server, "/login", {"key": DASHBOARD_KEY}).status_code == 429
    # Sessions opened before are not held back.
    assert rest(second) == 200


def test_a_short_dashboard_key_is_refused_at_start() -> None:
    cmd = [sys.executable, "-m", "outlast.cli", "start", "--event-key", "ek"]
    cmd += ["--signing-key", SIGNING_KEY, "--dashboard-key", "short"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--dashboard-key must be at least 16" in done.stderr


def test_the_vendored_files_are_served(make_server: MakeServer) -> None:
    server = make_server()
    for path, kind in (
        ("/static/htmx.min.js", "javascript"),
        ("/static/sse.js", "javascript"),
        ("/static/dashboard.css", "text/css"),
    ):
        r = httpx.get(f"{server.url}{path}", timeout=10)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
        assert len(r.content) > 1000, path


def test_no_ui_serves_the_apis_only(make_server: MakeServer) -> None:
    server = make_server(args=["--no-ui"])
    for path in ("/", "/runs", "/static/htmx.min.js"):
        r = httpx.get(f"{server.url}{path}", timeout=10)
        assert r.status_code == 404 and "no such route" in r.json()["error"], path
    assert httpx.get(f"{server.url}/v1/runs", timeout=10).status_code == 200


FLOW_APP = "tests.acceptance.apps.flow_state_app:app"
HELD = "flow-state-app-held"
BATCHED = "flow-state-app-batched"
DEBOUNCED = "flow-state-app-debounced"


def flow_state(server: Server, function_id: str, testid: str, **attrs: str) -> list[dict[str, str]]:
    """The elements ``testid`` of the function page's "Flow control now" section."""
    html = page(server, f"/functions/{function_id}")
    assert by_testid(html, "flow-state"), html[:2000]
    return by_testid(html, testid, **attrs)


@pytest.mark.timeout(120)
def test_a_functions_page_shows_its_flow_control_now(
    make_server: MakeServer, make_app: MakeApp, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    app = make_app(FLOW_APP, env={"OUTLAST_DEV": server.url})
    app.sync(server)
    origin = app.url.removesuffix("/api/outlast")
    try:
        # Five runs of one user under a limit of 2: two execute (and hold), three wait.
        server.send([{"name": "state/held", "data": {"user": "ann"}} for _ in range(5)])
        server.send({"name": "state/held", "data": {"user": "bob"}})

        def limit_full() -> dict[str, dict[str, str]] | None:
            rows = {r["data-key"]: r for r in flow_state(server, HELD, "flow-concurrency-key")}
            counts = {k: (r["data-in-flight"], r["data-waiting"]) for k, r in rows.items()}
            return rows if counts == {"ann": ("2", "3"), "bob": ("1", "0")} else None

        what = f"2 of ann's calls in flight and 3 waiting, 1 of bob's\n{server.log()}"
        rows = wait_for(limit_full, 30, what, 0.2)
        assert [(r["data-limit"], r["data-scope"]) for r in rows.values()] == [("2", "fn")] * 2
        # The busiest key first; the app is executing as many steps as the page says.
        listed = flow_state(server, HELD, "flow-concurrency-key")
        assert [r["data-key"] for r in listed] == ["ann", "bob"]
        wait_for(lambda: httpx.get(f"{origin}/stats", timeout=10).json()["holding"] == 3, 10, "3")

        # An open batch, and pending debounces: both wait a minute for their run.
        server.send([{"name": "state/batched", "data": {"user": "ann", "i": i}} for i in range(3)])
        server.send(
            [{"name": "state/debounced", "data": {"user": u}} for u in ("ann", "ann", "bob")]
        )
        [batch] = wait_for(
            lambda: flow_state(server, BATCHED, "flow-batch", key="ann", size="3"), 20, "batch"
        )
        assert batch["data-batch-id"]
        [debounce] = wait_for(
            lambda: flow_state(server, DEBOUNCED, "flow-debounce", count="2"), 20, "debounces"
        )
        assert debounce["data-next-key"] in ("ann", "bob") and int(debounce["data-next-due"]) > 0
        keys = flow_state(server, DEBOUNCED, "flow-debounce-key")
        assert sorted(k["data-key"] for k in keys) == ["ann", "bob"]
        # Options a function does not have are not shown.
        assert not flow_state(server, BATCHED, "flow-concurrency-key")
        assert not flow_state(server, HELD, "flow-batch")
    finally:
        httpx.post(f"{origin}/release", timeout=10)

    # Released: every call ran, no key has a call in flight or waiting.
    wait_for(lambda: flow_state(server, HELD, "flow-concurrency-idle"), 30, "the limit freed", 0.2)
