"""End to end: the real server and a real Outlast SDK app, talking HTTP."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

import outlast
from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import Server, free_port, wait_for

APP = "tests.acceptance.apps.core_app:app"


def counts(path: Path) -> Counter[tuple[str, str]]:
    if not path.exists():
        return Counter()
    lines = path.read_text().splitlines()
    return Counter((line.split(" ")[0], line.split(" ")[1]) for line in lines if line)


def quiet_counts(path: Path) -> Counter[tuple[str, str]]:
    """The counts once they stop changing (for 0.5 s)."""
    seen: list[Counter[tuple[str, str]]] = [counts(path)]

    def settled() -> bool:
        time.sleep(0.5)
        seen.append(counts(path))
        return seen[-1] == seen[-2]

    wait_for(settled, 15, "the app to finish the steps it was running")
    return seen[-1]


def times(path: Path, run_id: str, step: str) -> list[float]:
    """When each execution of a step of a run happened (unix seconds)."""
    rows = [line.split(" ") for line in path.read_text().splitlines() if line]
    return [float(r[2]) for r in rows if r[0] == run_id and r[1] == step]


def start(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> tuple[Any, Any, Path]:
    server = make_server(**backend)
    count_file = tmp_path / "counts.txt"
    app = make_app(APP, env={"OUTLAST_DEV": server.url, "COUNT_FILE": str(count_file)})
    r = httpx.post(f"{server.url}/fn/register", timeout=10)  # an empty register is refused
    assert r.status_code >= 400
    app.sync(server)
    return server, app, count_file


def test_five_steps_sleep_and_wait_complete(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server, _, count_file = start(make_server, make_app, tmp_path, backend)
    [event_id] = server.send({"name": "test/five", "data": {"order": 7}})

    # The run reaches the wait (after five steps and a one-second sleep) ...
    server.wait_step(event_id, "approval", "waiting")
    assert len(counts(count_file)) == 5
    # ... an approval for another order does not match; the right one resumes it.
    server.send({"name": "test/approve", "data": {"order": 8, "by": "mallory"}})
    server.send({"name": "test/approve", "data": {"order": 7, "by": "alice"}})
    run = server.wait_run(event_id, timeout=30)
    assert run["output"] == {"total": 150, "approved_by": "alice", "order": 7}
    # Every step ran exactly once.
    assert set(counts(count_file).values()) == {1}


def committed_steps(server: Server, backend: dict[str, Any]) -> set[tuple[str, str]]:
    """(run_id, step name) of every step whose result the (dead) server had committed."""
    sql = "SELECT run_id, name FROM steps WHERE done = 1 AND op = 'StepRun'"
    if not backend:
        with sqlite3.connect(server.sqlite_path) as conn:
            return {(r[0], r[1]) for r in conn.execute(sql)}

    async def read() -> set[tuple[str, str]]:
        conn = await asyncpg.connect(backend["postgres_uri"])
        try:
            rows = await conn.fetch(sql.replace("steps", f"{backend['postgres_schema']}.steps"))
            return {(r[0], r[1]) for r in rows}
        finally:
            await conn.close()

    return asyncio.run(read())


def test_kill_9_the_server_mid_flight_loses_nothing_and_reruns_no_finished_step(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    runs, steps_per_run = 200, 5
    server, _, count_file = start(make_server, make_app, tmp_path, backend)
    event_ids = server.send([{"name": "test/crash", "data": {"n": i}} for i in range(runs)])

    # Kill the server with SIGKILL once a good share of the steps, not all, have run.
    wait_for(lambda: sum(counts(count_file).values()) >= 300, 60, "300 step executions")
    server.kill(signal.SIGKILL)
    committed = committed_steps(server, backend)
    # Steps the app was already running when the server died still finish (and are
    # recorded) after the kill: take the count once the app has gone quiet.
    executed_before = quiet_counts(count_file)
    assert 0 < len(committed) < runs * steps_per_run

    server.start()  # same port, same database
    for event_id in event_ids:
        run = server.wait_run(event_id, timeout=90)
        assert run["output"] == 15

    final = counts(count_file)
    assert len(final) == runs * steps_per_run  # every step of every run ran
    rerun_committed = [k for k in committed if final[k] != 1]
    assert rerun_committed == [], f"finished steps ran again: {rerun_committed[:10]}"
    # Only steps in flight at the kill (executed, not committed) may have run twice.
    twice = [k for k, n in final.items() if n > 1]
    assert all(k in executed_before and k not in committed for k in twice)
    assert all(n <= 2 for n in final.values())
    server.doctor()
    print(
        f"\n[crash {'postgres' if backend else 'sqlite'}] {runs} runs x {steps_per_run} steps; "
        f"{len(committed)} steps committed at the kill, {sum(executed_before.values())} "
        f"executions seen; {len(twice)} in-flight steps ran a second time; "
        f"0 committed steps re-ran"
    )


def test_app_killed_mid_step_retries_the_step_and_completes(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server, app, count_file = start(make_server, make_app, tmp_path, {})
    [event_id] = server.send({"name": "test/slow", "data": {"seconds": 2}})
    wait_for(
        lambda: counts(count_file)[(server.runs_for(event_id)[0]["run_id"], "slow")], 30, "slow"
    )
    app.kill(signal.SIGKILL)  # the step dies half-way; the server's call fails

    make_app(APP, env=app.env, port=app.port)  # the app comes back on the same URL
    run = server.wait_run(event_id, timeout=60)
    assert run["output"] == "done"
    assert counts(count_file)[(run["run_id"], "slow")] == 2
    [step] = run["steps"]
    assert step["attempts"] >= 2 and step["status"] == "completed"  # one attempt died


def test_retries_non_retriable_retry_after_and_step_error(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server, _, count_file = start(make_server, make_app, tmp_path, backend)
    flaky, doomed, patient, exhausted = server.send(
        [{"name": f"test/{n}"} for n in ("flaky", "doomed", "patient", "exhausted")]
    )
    # A step failing twice then succeeding completes on its third attempt.
    run = server.wait_run(flaky, timeout=30)
    assert run["output"] == "ok on attempt 2"
    assert counts(count_file)[(run["run_id"], "flaky")] == 3
    assert run["steps"][0]["attempts"] == 3

    # NonRetriableError: one attempt, the run fails, on_failure runs with the error.
    run = server.wait_run(doomed, "Failed", timeout=30)
    assert run["error"]["name"] == "NonRetriableError"
    assert run["error"]["message"] == "the card was declined"
    wait_for(
        lambda: counts(count_file)[(run["run_id"], "on_failure:the_card_was_declined")],
        30,
        "on_failure to run",
    )
    assert counts(count_file)[(run["run_id"], "doomed")] == 1

    # RetryAfterError: the retry waits for the time asked (2 s), not --retry-interval (0.2 s).
    run = server.wait_run(patient, timeout=30)
    assert run["output"] == 1
    first, second = times(count_file, run["run_id"], "patient")
    assert second - first >= 1.8

    # Out of retries: StepError is raised in the handler, which may catch it.
    run = server.wait_run(exhausted, timeout=30)
    assert run["output"] == "caught ValueError: still broken"
    assert counts(count_file)[(run["run_id"], "exhausted")] == 2  # retries=1: two attempts

    # System events tell what happened.
    finished = server.get("/v1/events?name=inngest/function.finished")
    failed = server.get("/v1/events?name=inngest/function.failed")
    assert len(finished) >= 4 and len(failed) == 1
    assert failed[0]["data"]["function_id"] == "core-app-doomed"


def test_invoke_and_parallel_steps(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server, _, count_file = start(make_server, make_app, tmp_path, backend)
    parent, fan = server.send([{"name": "test/parent"}, {"name": "test/fan-out"}])
    run = server.wait_run(parent, timeout=30)
    assert run["output"] == {"child": {"doubled": 42}, "failed": "child refused"}
    invoked = server.get("/v1/events?name=inngest/function.invoked")
    assert len(invoked) == 2

    run = server.wait_run(fan, timeout=30)
    assert run["output"] == [1, 4, 9, 14]
    c = counts(count_file)
    # Each parallel step is retried on its own: only part 2 ran twice.
    assert [c[(run["run_id"], f"part-{i}")] for i in (1, 2, 3)] == [1, 2, 1]


def test_waits_and_sleeps_survive_a_restart_and_runs_can_be_cancelled(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server, _, _ = start(make_server, make_app, tmp_path, backend)
    kept, cancelled = server.send(
        [{"name": "test/five", "data": {"order": 1}}, {"name": "test/five", "data": {"order": 2}}]
    )
    server.wait_step(kept, "approval", "waiting")
    server.wait_step(cancelled, "approval", "waiting")

    server.kill(signal.SIGKILL)  # nothing that waits lives in the server's memory
    server.start()
    server.send({"name": "test/approve", "data": {"order": 1, "by": "bob"}})
    run = server.wait_run(kept, timeout=30)
    assert run["output"] == {"total": 150, "approved_by": "bob", "order": 1}

    run_id = server.runs_for(cancelled)[0]["run_id"]
    r = httpx.delete(f"{server.url}/v1/runs/{run_id}", timeout=10)
    assert r.status_code == 200, r.text
    server.wait_run(cancelled, "Cancelled", timeout=30)
    # The approval that comes too late does not revive it; the system event says so.
    server.send({"name": "test/approve", "data": {"order": 2, "by": "bob"}})
    events = server.get("/v1/events?name=inngest/function.cancelled")
    assert [e["data"]["run_id"] for e in events] == [run_id]
    assert server.runs_for(cancelled)[0]["status"] == "Cancelled"
    r = httpx.delete(f"{server.url}/v1/runs/{run_id}", timeout=10)
    assert r.status_code == 409 and "already cancelled" in r.json()["error"], r.text


def test_finish_timeout_cancels_a_run_that_runs_too_long(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server, _, count_file = start(make_server, make_app, tmp_path, {})
    # finish = 1 s: the run is cancelled during its 10 s sleep; "after" never runs.
    [slow] = server.send({"name": "test/bounded"})
    run = server.wait_run(slow, "Cancelled", timeout=30)
    assert "did not finish within 1s" in run["error"]["message"]
    assert counts(count_file)[(run["run_id"], "before")] == 1
    assert counts(count_file)[(run["run_id"], "after")] == 0
    cancelled = server.get("/v1/events?name=inngest/function.cancelled")
    assert [e["data"]["run_id"] for e in cancelled] == [run["run_id"]]


def test_dev_discovers_apps_given_with_u_and_polls_them(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    app_port = free_port()
    app_url = f"http://127.0.0.1:{app_port}/api/outlast"
    server = make_server(args=["-u", app_url, "--poll-interval", "0.5"])

    def function_ids() -> set[str]:
        r = httpx.get(f"{server.url}/dev", timeout=5)
        return {f["id"] for f in r.json()["functions"]}

    assert function_ids() == set()  # the app is not up yet: the server keeps trying
    app = make_app(APP, port=app_port, env={"OUTLAST_DEV": server.url})
    wait_for(lambda: "core-app-five-steps" in function_ids(), 20, "discovery of the app")
    # The app is redeployed with fewer functions; the next poll syncs the change.
    app.kill()
    make_app(APP, port=app_port, env={"OUTLAST_DEV": server.url, "ONLY_FUNCTIONS": "flaky"})
    wait_for(lambda: function_ids() == {"core-app-flaky"}, 20, "the re-sync")
    [event_id] = server.send({"name": "test/flaky"})
    assert server.wait_run(event_id, timeout=30)["output"] == "ok on attempt 2"
    [ignored] = server.send({"name": "test/five", "data": {"order": 1}})
    assert server.runs_for(ignored) == []


def test_an_event_id_starts_runs_once(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server, _, count_file = start(make_server, make_app, tmp_path, {})
    first = server.send({"name": "test/crash", "id": "order-42"})
    again = server.send([{"name": "test/crash", "id": "order-42"}, {"name": "test/crash"}])
    run = server.wait_run(first[0], timeout=30)
    assert run["output"] == 15
    assert server.runs_for(again[0]) == []  # stored, but no second run
    assert server.get(f"/v1/events/{again[0]}")["id"] == "order-42"
    server.wait_run(again[1], timeout=30)
    assert sum(counts(count_file).values()) == 10  # two runs of five steps, not three


async def test_client_send_async_and_sync_reach_the_server(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server, _, _ = start(make_server, make_app, tmp_path, {})
    client = outlast.Client("sender", dev=server.url)
    [one] = await client.send(outlast.Event(name="test/crash", data={"via": "async"}))
    batch = await asyncio.to_thread(
        client.send_sync, [{"name": "test/crash", "data": {"via": "sync"}}] * 2
    )
    assert len(batch) == 2 and len(set(batch)) == 2
    for event_id in (one, *batch):
        assert (await asyncio.to_thread(server.wait_run, event_id))["output"] == 15
    stored = await asyncio.to_thread(server.get, f"/v1/events/{one}")
    assert stored["data"] == {"via": "async"}


def test_a_step_output_over_4_mb_fails_the_step_clearly(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server, _, _ = start(make_server, make_app, tmp_path, {})
    [event_id] = server.send({"name": "test/huge"})
    run = server.wait_run(event_id, timeout=30)
    # Inngest's name and message; the sizes in the stack.
    assert run["output"] == (
        "output_too_large: step output size is greater than the limit "
        "(step output is 5242882 bytes; the limit is 4194304)"
    )
    [step] = run["steps"]
    assert step["status"] == "failed" and step["attempts"] == 1


def test_a_wait_takes_an_event_that_came_before_it_was_registered(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    # Both events in one request: the second is stored before the app has even been
    # called, so before the run registers its wait. It still counts (not its own trigger).
    server, _, _ = start(make_server, make_app, tmp_path, backend)
    first, second = server.send(
        [
            {"name": "test/ask", "data": {"thread": 1, "text": "question"}},
            {"name": "test/ask", "data": {"thread": 1, "text": "answer"}},
        ]
    )
    assert server.wait_run(first, timeout=30)["output"] == "answer"
    # The second event started a run too, whose wait finds nothing newer: it times out.
    assert server.wait_run(second, timeout=30)["output"] is None
