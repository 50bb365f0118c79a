"""Bulk cancellation, ``POST /v1/cancellations``: a function's unfinished runs in a time
range, optionally filtered by a CEL expression over their trigger event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from outlast.protocol import signing
from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import Server

APP = "tests.acceptance.apps.cancel_app:app"
LONG_AGO = "2000-01-01T00:00:00Z"
FAR_AHEAD = "2099-01-01T00:00:00.000Z"


def cancel(server: Server, body: Any, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{server.url}/v1/cancellations", json=body, headers=headers, timeout=30)


def napping(server: Server, event_id: str) -> dict[str, Any]:
    return server.wait_step(event_id, "nap", "sleeping")


def status(server: Server, event_id: str) -> str:
    [run] = server.runs_for(event_id)
    return str(run["status"])


def test_bulk_cancel_by_function_time_range_and_expression(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    make_app(APP, env={"OUTLAST_DEV": server.url}).sync(server)
    a1, b1, a2 = server.send([{"name": "test/nap", "data": {"user": u}} for u in "aba"])
    [other] = server.send({"name": "test/other-nap", "data": {"user": "a"}})
    for event_id in (a1, b1, a2, other):
        napping(server, event_id)
    [late] = server.send({"name": "test/nap", "data": {"user": "a"}})
    napping(server, late)
    [late_run] = server.runs_for(late)

    # Runs of "nap" started before the late one (the bound is exclusive) for user "a".
    body = {
        "app_id": "cancel-app",
        "function_id": "nap",
        "started_after": LONG_AGO,
        "started_before": late_run["queued_at"],
        "if": "event.data.user == 'a'",
    }
    r = cancel(server, body)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["id"] and result["cancelled"] == 2
    assert {k: result[k] for k in body} == body
    assert [status(server, e) for e in (a1, b1, a2, other, late)] == [
        "Cancelled",
        "Running",
        "Cancelled",
        "Running",
        "Running",
    ]
    cancelled = server.get("/v1/events?name=inngest/function.cancelled")
    assert len(cancelled) == 2
    a1_run = server.wait_run(a1, "Cancelled")
    assert result["id"] in a1_run["error"]["message"]

    # Nothing left to match: a second call cancels nothing.
    again = cancel(server, body)
    assert again.status_code == 200 and again.json()["cancelled"] == 0
    # The full function id (as /v1/runs shows it) works without app_id; no `if` = all.
    rest = {"function_id": "cancel-app-nap", "started_after": LONG_AGO}
    r = cancel(server, {**rest, "started_before": FAR_AHEAD})
    assert r.status_code == 200 and r.json()["cancelled"] == 2
    assert [status(server, e) for e in (b1, late, other)] == ["Cancelled", "Cancelled", "Running"]


GOOD = {
    "app_id": "cancel-app",
    "function_id": "nap",
    "started_after": LONG_AGO,
    "started_before": FAR_AHEAD,
}


def without(*keys: str, **changes: Any) -> dict[str, Any]:
    return {**{k: v for k, v in GOOD.items() if k not in keys}, **changes}


#: (body, HTTP status, words of the error)
BAD = [
    ([1, 2], 400, "must be a JSON object, got an array"),
    (without("function_id"), 400, "function_id is required"),
    (without("started_after"), 400, "started_after is required"),
    (without(started_after="yesterday"), 400, "started_after is not an ISO 8601 date-time"),
    (
        without(started_after=FAR_AHEAD, started_before=LONG_AGO),
        400,
        "started_after must be earlier than started_before",
    ),
    (without(app_id=7), 400, "app_id must be a non-empty string"),
    (without(If="true"), 400, "unknown field(s) 'If'"),
    # A blank filter is not "cancel everything".
    (without(**{"if": "  "}), 400, "if must be a non-empty CEL expression"),
    (without(**{"if": "event.data.user =="}), 400, "invalid CEL expression"),
    (without(function_id="nope"), 404, "function 'nope' not found in app 'cancel-app'"),
    (without(app_id="other-app"), 404, "function 'nap' not found in app 'other-app'"),
]


def test_bad_cancellations_are_refused_clearly(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server = make_server()
    make_app(APP, env={"OUTLAST_DEV": server.url}).sync(server)
    [event_id] = server.send({"name": "test/nap", "data": {"user": "a"}})
    napping(server, event_id)
    for body, code, words in BAD:
        r = cancel(server, body)
        assert (r.status_code, words in r.json()["error"]) == (code, True), (body, r.text)
    r = httpx.post(f"{server.url}/v1/cancellations", content=b"{nope", timeout=10)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    # Nothing was cancelled along the way.
    assert status(server, event_id) == "Running"


def test_self_hosted_bulk_cancel_needs_the_signing_key(make_server: MakeServer) -> None:
    key = "3d" * 32
    server = make_server(mode="start", args=["--event-key", "k", "--signing-key", key])
    r = cancel(server, GOOD)
    assert r.status_code == 401 and "missing signing key" in r.json()["error"]
    # With the key the request gets through to the lookup (no app is synced here).
    r = cancel(server, GOOD, token=signing.strip_prefix(signing.hash_key(key)))
    assert r.status_code == 404 and "not found" in r.json()["error"]
