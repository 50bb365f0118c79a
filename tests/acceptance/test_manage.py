"""Run management in the REST API, against a real server and app: pause / resume a
function, replay a time range and one event, rerun a run from scratch and from a step."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from outlast.protocol import signing
from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import Server, wait_for

APP = "tests.acceptance.apps.manage_app:app"
FN = "manage-app-steps"
LONG_AGO = "2000-01-01T00:00:00Z"


def post(server: Server, path: str, body: Any = None, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{server.url}{path}", json=body, headers=headers, timeout=30)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_done(server: Server, run_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        run: dict[str, Any] = server.get(f"/v1/runs/{run_id}")
        if run["status"] in ("Failed", "Cancelled"):
            raise AssertionError(f"run {run_id} ended {run['status']}: {run}")
        return run if run["status"] == "Completed" else None

    return wait_for(check, 30, f"run {run_id} to complete\n{server.log()}")


def executions(count_file: Path) -> Counter[tuple[str, str]]:
    """(run id, step) -> how often the app ran that step."""
    lines = count_file.read_text().split() if count_file.exists() else []
    return Counter(zip(lines[::2], lines[1::2], strict=True))


def started(server: Server, make_app: MakeApp, tmp_path: Path) -> tuple[Server, Path]:
    """The server with the app synced, and the file the app records its steps in."""
    count_file = tmp_path / "count.log"
    make_app(APP, env={"OUTLAST_DEV": server.url, "COUNT_FILE": str(count_file)}).sync(server)
    return server, count_file


def test_a_paused_function_starts_no_run_until_the_range_is_replayed(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server, _ = started(make_server(**backend), make_app, tmp_path)
    [before] = server.send({"name": "test/manage", "data": {"n": 1}})
    [run_before] = server.runs_for(before)

    # The app-local id with ?app_id= names the function, as the full id does.
    paused = ok(post(server, "/v1/functions/steps/pause?app_id=manage-app"))
    assert (paused["function_id"], paused["app_id"], paused["paused"]) == (FN, "manage-app", True)
    assert ok(post(server, f"/v1/functions/{FN}/pause"))["paused"] is True  # idempotent
    skipped = server.send([{"name": "test/manage", "data": {"n": n}} for n in (2, 3, 4)])
    # Ingest is done when the send answers: the events are stored, no run started.
    for event_id in skipped:
        assert server.get(f"/v1/events/{event_id}")["data"]["n"] >= 2
        assert server.runs_for(event_id) == []
    # Runs started before the pause go on.
    wait_done(server, run_before["run_id"])

    assert ok(post(server, f"/v1/functions/{FN}/resume"))["paused"] is False
    [after] = server.send({"name": "test/manage", "data": {"n": 5}})
    [run_after] = server.runs_for(after)
    wait_done(server, run_after["run_id"])

    replay = ok(post(server, f"/v1/functions/{FN}/replay", {"from": LONG_AGO}))
    assert (replay["count"], replay["limit"], replay["capped"]) == (3, 10_000, False)
    for event_id, run_id in zip(skipped, replay["run_ids"], strict=True):
        [run] = server.runs_for(event_id)
        assert run["run_id"] == run_id
        assert wait_done(server, run_id)["output"]["n"] in (2, 3, 4)
    # Those events have their runs now: nothing left to replay.
    again = ok(post(server, f"/v1/functions/{FN}/replay", {"from": LONG_AGO}))
    assert again["run_ids"] == [] and again["count"] == 0


def test_replay_of_an_event_runs_every_function_it_triggers_again(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server, count_file = started(make_server(), make_app, tmp_path)
    event = {"name": "test/manage", "id": "order-7", "data": {"n": 7, "tally": True}}
    [event_id] = server.send(event)
    first = {run["function_id"]: run["run_id"] for run in server.runs_for(event_id)}
    assert set(first) == {FN, "manage-app-tally"}
    # The same event id again starts nothing (dedupe); a replay is not blocked by it.
    [dup] = server.send(event)
    assert server.runs_for(dup) == []

    replay = ok(post(server, f"/v1/events/{event_id}/replay"))
    assert replay["event_id"] == event_id and len(replay["run_ids"]) == 2
    runs = server.runs_for(event_id)
    assert {r["run_id"] for r in runs} == {*first.values(), *replay["run_ids"]}
    for run_id in (*first.values(), *replay["run_ids"]):
        wait_done(server, run_id)
    ran = executions(count_file)
    for run_id in (*first.values(), *replay["run_ids"]):
        assert ran[(run_id, "count")] + ran[(run_id, "one")] == 1  # one of the two functions

    # The trigger filter applies: without tally, only "steps" runs again.
    [plain] = server.send({"name": "test/manage", "data": {"n": 8}})
    assert len(ok(post(server, f"/v1/events/{plain}/replay"))["run_ids"]) == 1


def test_rerun_from_scratch_and_from_a_step(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server, count_file = started(make_server(**backend), make_app, tmp_path)
    [event_id] = server.send({"name": "test/manage", "data": {"n": 4}})
    [orig] = server.runs_for(event_id)
    original = wait_done(server, orig["run_id"])
    assert original["output"] == {"n": 4, "result": 41}

    scratch = ok(post(server, f"/v1/runs/{orig['run_id']}/rerun"))
    assert scratch["original_run_id"] == orig["run_id"] and scratch["kept_steps"] == []
    rerun = wait_done(server, scratch["run_id"])
    assert rerun["output"] == original["output"] and rerun["original_run_id"] == orig["run_id"]
    assert rerun["event_id"] == event_id

    two = next(step for step in original["steps"] if step["name"] == "two")
    one = next(step for step in original["steps"] if step["name"] == "one")
    partial = ok(post(server, f"/v1/runs/{orig['run_id']}/rerun", {"from_step": two["id"]}))
    assert partial["from_step"] == two["id"] and partial["kept_steps"] == [one["id"]]
    done = wait_done(server, partial["run_id"])
    assert done["output"] == original["output"]
    # The step before "two" kept its memo (and its original times); it did not run again.
    kept = next(step for step in done["steps"] if step["name"] == "one")
    assert kept["ended_at"] == one["ended_at"]

    ran = executions(count_file)
    for step in ("one", "two", "three"):
        assert ran[(orig["run_id"], step)] == 1
        assert ran[(scratch["run_id"], step)] == 1
    assert ran[(partial["run_id"], "one")] == 0
    assert ran[(partial["run_id"], "two")] == 1 and ran[(partial["run_id"], "three")] == 1
    listed = server.get(f"/v1/events/{event_id}/runs")
    origins = {run["run_id"]: run["original_run_id"] for run in listed}
    assert origins == {
        orig["run_id"]: None,
        scratch["run_id"]: orig["run_id"],
        partial["run_id"]: orig["run_id"],
    }


#: (method path, JSON body, HTTP status, words of the error)
BAD: list[tuple[str, Any, int, str]] = [
    ("/v1/functions/nope/pause", None, 404, "function 'nope' not found"),
    ("/v1/functions/steps/resume?app_id=other", None, 404, "not found in app 'other'"),
    ("/v1/functions/steps/pause?app_id=", None, 400, "app_id must not be empty"),
    ("/v1/functions/nope/replay", {"from": LONG_AGO}, 404, "function 'nope' not found"),
    (f"/v1/functions/{FN}/replay", {}, 400, "from is required"),
    (f"/v1/functions/{FN}/replay", [1], 400, "must be a JSON object, got an array"),
    (f"/v1/functions/{FN}/replay", {"from": "soon"}, 400, "from is not an ISO 8601"),
    (f"/v1/functions/{FN}/replay", {"from": LONG_AGO, "until": 1}, 400, "unknown field(s)"),
    (
        f"/v1/functions/{FN}/replay",
        {"from": "2030-01-01T00:00:00Z", "to": LONG_AGO},
        400,
        "from must be earlier than to",
    ),
    ("/v1/events/nope/replay", None, 404, "event 'nope' not found"),
    ("/v1/runs/nope/rerun", None, 404, "run 'nope' not found"),
    ("/v1/runs/nope/rerun", {"from_step": 3}, 400, "from_step must be a step's id"),
    ("/v1/functions/nope/invoke", {"data": {}}, 404, "function 'nope' not found"),
    (f"/v1/functions/{FN}/invoke", {"data": [1]}, 400, "data must be a JSON object"),
    (f"/v1/functions/{FN}/invoke", {"n": 1}, 400, "unknown field(s) 'n'"),
]


def test_invoke_starts_a_run_with_the_data_given(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server, count_file = started(make_server(**backend), make_app, tmp_path)
    # By the function's own id too (it is unique across apps).
    invoked = ok(post(server, "/v1/functions/steps/invoke", {"data": {"n": 4}}))
    assert invoked["function_id"] == FN
    run = wait_done(server, invoked["run_id"])
    assert run["output"] == {"n": 4, "result": 41}
    event = server.get(f"/v1/events/{invoked['event_id']}")
    assert event["name"] == "inngest/function.invoked" and event["data"]["n"] == 4
    assert {step for _, step in executions(count_file)} == {"one", "two", "three"}
    # A paused function is not invoked.
    ok(post(server, f"/v1/functions/{FN}/pause"))
    r = post(server, f"/v1/functions/{FN}/invoke", {"data": {"n": 5}})
    assert r.status_code == 409 and "is paused: resume it first" in r.json()["error"]


def test_bad_requests_are_refused_clearly(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server, _ = started(make_server(), make_app, tmp_path)
    for path, body, code, words in BAD:
        r = post(server, path, body)
        assert (r.status_code, words in r.json()["error"]) == (code, True), (path, r.text)
    [event_id] = server.send({"name": "test/manage", "data": {"n": 1}})
    [run] = server.runs_for(event_id)
    wait_done(server, run["run_id"])
    r = post(server, f"/v1/runs/{run['run_id']}/rerun", {"from_step": "no-such-step"})
    assert r.status_code == 400 and "the run has no step 'no-such-step'" in r.json()["error"]
    r = httpx.post(f"{server.url}/v1/runs/{run['run_id']}/rerun", content=b"{nope", timeout=10)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    # A paused function is neither rerun nor replayed.
    ok(post(server, f"/v1/functions/{FN}/pause"))
    r = post(server, f"/v1/runs/{run['run_id']}/rerun")
    assert r.status_code == 409 and "is paused: resume it first" in r.json()["error"]
    r = post(server, f"/v1/functions/{FN}/replay", {"from": LONG_AGO})
    assert r.status_code == 409 and "is paused" in r.json()["error"]


def test_self_hosted_run_management_needs_the_signing_key(make_server: MakeServer) -> None:
    key = "4e" * 32
    server = make_server(mode="start", args=["--event-key", "k", "--signing-key", key])
    paths = [
        f"/v1/functions/{FN}/pause",
        f"/v1/functions/{FN}/resume",
        f"/v1/functions/{FN}/replay",
        f"/v1/functions/{FN}/invoke",
        "/v1/events/some-event/replay",
        "/v1/runs/some-run/rerun",
    ]
    for path in paths:
        r = post(server, path, {})
        assert r.status_code == 401 and "missing signing key" in r.json()["error"], path
    # With the key the request gets through to the lookup (no app is synced here).
    token = signing.strip_prefix(signing.hash_key(key))
    r = post(server, f"/v1/functions/{FN}/pause", token=token)
    assert r.status_code == 404 and "not found" in r.json()["error"]
