"""Synchronous handlers served by Flask and by Django, against the real server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.acceptance.conftest import MakeApp, MakeServer

COMMANDS = {
    "flask": [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "tests.acceptance.apps.flask_app",
        "run",
        "--port",
        "{port}",
    ],
    "django": [sys.executable, "-m", "tests.acceptance.apps.django_app", "{port}"],
}


@pytest.mark.parametrize("framework", ["flask", "django"])
def test_sync_handler_steps_retry_sleep_wait_timeout_and_send(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, framework: str
) -> None:
    server = make_server()
    app = make_app(
        "", cmd=COMMANDS[framework], env={"OUTLAST_DEV": server.url, "APP_ID": framework}
    )
    app.sync(server)
    [event_id] = server.send({"name": "sync/go", "data": {"n": 20}})
    run = server.wait_run(event_id, timeout=30)
    assert run["output"] == {"doubled": 40, "plus_one": 41, "reply": None, "sent": 1}
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["flaky"]["attempts"] == 2 and steps["double"]["attempts"] == 1
    [done] = server.get("/v1/events?name=sync/done")
    [follow_up] = server.runs_for(done["id"])
    assert follow_up["function_id"] == f"{framework}-on-done"
    assert server.wait_run(done["id"], timeout=30)["output"] == 20
