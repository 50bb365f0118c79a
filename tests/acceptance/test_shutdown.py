"""SIGTERM drains: the server stops taking work, lets the calls in flight finish (up to
``--shutdown-grace``), and hands back what is left, so no step in flight runs twice."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import wait_for

APP = "tests.acceptance.apps.core_app:app"

pytestmark = pytest.mark.chaos


def counts(path: Path) -> Counter[tuple[str, ...]]:
    if not path.exists():
        return Counter()
    return Counter(tuple(line.split()[:2]) for line in path.read_text().splitlines())


def test_sigterm_lets_the_calls_in_flight_finish(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    count_file = tmp_path / "counts.txt"
    app = make_app(APP, env={"OUTLAST_DEV": server.url, "COUNT_FILE": str(count_file)})
    app.sync(server)
    runs = 5
    event_ids = server.send([{"name": "test/slow", "data": {"seconds": 2}} for _ in range(runs)])
    wait_for(lambda: len(counts(count_file)) == runs, 30, "every slow step to start")

    stopping = time.monotonic()
    server.kill(signal.SIGTERM)
    took = time.monotonic() - stopping
    # It waited for the steps (two seconds each) instead of dropping their answers.
    assert 0.5 < took < 10, took

    server.start()  # same port, same database
    for event_id in event_ids:
        assert server.wait_run(event_id, timeout=60)["output"] == "done"
    final = counts(count_file)
    assert len(final) == runs and set(final.values()) == {1}, final
    server.doctor()
