"""Two ``outlast start`` processes on one PostgreSQL database: their limits are shared,
because they are enforced through the store (leasing counts, row locks), not in memory."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from outlast.protocol import signing
from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import wait_for
from tests.acceptance.test_flow_control import APP, events, stats
from tests.conftest import POSTGRES_URI

EVENT_KEY = "two-servers"
SIGNING_KEY = "7a" * 32

pytestmark = pytest.mark.postgres


@pytest.mark.timeout(180)
def test_concurrency_and_singleton_hold_across_two_server_processes(
    make_server: MakeServer, make_app: MakeApp, schema: str
) -> None:
    args = ["--event-key", EVENT_KEY, "--signing-key", SIGNING_KEY]
    store = {"postgres_uri": POSTGRES_URI, "postgres_schema": schema}
    one = make_server(mode="start", args=args, **store)
    two = make_server(mode="start", args=args, **store)
    env = {
        "OUTLAST_BASE_URL": one.url,
        "OUTLAST_SIGNING_KEY": f"signkey-test-{SIGNING_KEY}",
        "OUTLAST_EVENT_KEY": EVENT_KEY,
    }
    app = make_app(APP, env=env)
    app.sync(one)
    token = signing.strip_prefix(signing.hash_key(SIGNING_KEY))

    # Concurrency: 20 runs per user, half sent to each server; both execute them.
    per_user = events("flow/per-user", [{"user": u} for _ in range(10) for u in "ab"])
    one.send(per_user, key=EVENT_KEY)
    two.send(per_user, key=EVENT_KEY)

    # Singleton (skip): the same key sent to both servers at the same moment, 8 times.
    def race(i: int) -> list[str]:
        batch = events("flow/single", [{"user": f"racer-{i}"}])
        with ThreadPoolExecutor(2) as pool:
            got = pool.map(lambda s: s.send(batch, key=EVENT_KEY), (one, two))
            return list(itertools.chain.from_iterable(got))

    raced = [race(i) for i in range(8)]

    def all_done() -> bool:
        return all(len(stats(app)["done"].get(u, [])) == 40 for u in "ab")

    wait_for(all_done, 150, f"40 steps per user\n{one.log()}\n{two.log()}")
    s = stats(app)
    assert s["peak"] == {"a": 3, "b": 3}
    for pair in raced:
        runs = [r for event_id in pair for r in one.runs_for(event_id, token)]
        assert len(runs) == 1, pair
    wait_for(lambda: len(stats(app)["started"].get("single", [])) == 8, 30, "8 singleton runs")
    started = stats(app)["started"]["single"]
    assert sorted(r["data"]["user"] for r in started) == sorted(f"racer-{i}" for i in range(8))
