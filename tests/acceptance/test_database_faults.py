"""The database fails under load: PostgreSQL restarted, then stopped for a while, while
runs are in flight. Nothing acknowledged is lost, every run ends, no step that finished
runs again (only steps in flight at a fault may), clients get 503 with Retry-After while
the database is away, and ``outlast doctor`` finds no stuck run afterwards."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import wait_for
from tests.acceptance.pg_cluster import Cluster

APP = "tests.acceptance.apps.core_app:app"

pytestmark = [pytest.mark.postgres, pytest.mark.chaos]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    yield c
    c.remove()


def counts(path: Path) -> Counter[tuple[str, ...]]:
    if not path.exists():
        return Counter()
    return Counter(tuple(line.split()[:2]) for line in path.read_text().splitlines())


@pytest.mark.timeout(300)
def test_postgres_restarted_and_stopped_under_load(
    make_server: MakeServer, make_app: MakeApp, cluster: Cluster, tmp_path: Path
) -> None:
    server = make_server(postgres_uri=cluster.uri)
    count_file = tmp_path / "counts.txt"
    app = make_app(APP, env={"OUTLAST_DEV": server.url, "COUNT_FILE": str(count_file)})
    app.sync(server)
    runs = 120
    event_ids = server.send([{"name": "test/crash", "data": {"n": i}} for i in range(runs)])

    wait_for(lambda: sum(counts(count_file).values()) >= 150, 60, "150 step executions")
    cluster.restart()
    wait_for(lambda: sum(counts(count_file).values()) >= 350, 60, "350 step executions")
    cluster.stop()
    try:
        # While it is away: 503 with Retry-After, not a 500, and the server stays up.
        r = httpx.post(f"{server.url}/e/any", json={"name": "test/crash"}, timeout=30)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1"
        time.sleep(10)
        assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200
    finally:
        cluster.start()
    back = time.monotonic()

    def accepted() -> bool:
        r = httpx.post(f"{server.url}/e/any", json={"name": "test/other"}, timeout=10)
        return r.status_code == 200

    wait_for(accepted, 30, "the event API to accept events again")
    print(f"\n[database faults] events accepted {time.monotonic() - back:.2f} s after PostgreSQL")
    for event_id in event_ids:
        assert server.wait_run(event_id, timeout=120)["output"] == 15
    final = counts(count_file)
    assert len(final) == runs * 5  # every step of every run ran ...
    assert all(n <= 2 for n in final.values())  # ... at most twice (in flight at a fault)
    assert server.doctor().endswith("0 stuck runs\n")
    assert "Traceback" not in server.log()
