"""End to end: the real server and a real Outlast SDK app, talking HTTP."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.conftest import MakeApp, MakeServer

APP = "tests.acceptance.apps.core_app:app"


def counts(path: Path) -> Counter[tuple[str, str]]:
    if not path.exists():
        return Counter()
    lines = path.read_text().splitlines()
    return Counter((line.split(" ")[0], line.split(" ")[1]) for line in lines if line)


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
