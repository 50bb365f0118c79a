"""Flow control through the real server and a real app, on SQLite and PostgreSQL: each
test fails if its option is ignored or enforced wrongly."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import App, Server, wait_for

APP = "tests.acceptance.apps.flow_app:app"


@pytest.fixture
def deployment(
    make_server: MakeServer, make_app: MakeApp, backend: dict[str, Any]
) -> tuple[Server, App]:
    server = make_server(**backend)
    app = make_app(APP, env={"OUTLAST_DEV": server.url})
    app.sync(server)
    return server, app


def stats(app: App) -> dict[str, Any]:
    origin = app.url.removesuffix("/api/outlast")
    data: dict[str, Any] = httpx.get(f"{origin}/stats", timeout=10).json()
    return data


def events(name: str, datas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, "data": d} for d in datas]


@pytest.mark.timeout(120)
def test_concurrency_per_key_limits_executing_steps_and_every_key_progresses(
    deployment: tuple[Server, App],
) -> None:
    server, app = deployment
    ids = server.send(events("flow/per-user", [{"user": u} for _ in range(30) for u in "ab"]))

    def all_done() -> bool:
        return all(len(stats(app)["done"].get(u, [])) == 60 for u in "ab")

    wait_for(all_done, 90, f"60 steps per user\n{server.log()}")
    s = stats(app)
    # Never more than 3 steps of one user at once, and the limit was really reached.
    assert s["peak"] == {"a": 3, "b": 3}
    # Both users progressed side by side: neither finished before the other began.
    assert min(s["done"]["b"]) < max(s["done"]["a"])
    assert min(s["done"]["a"]) < max(s["done"]["b"])
    for event_id in ids[:3]:
        assert server.wait_run(event_id)["output"] in ("a", "b")


@pytest.mark.timeout(60)
def test_throttle_starts_the_limit_at_once_and_the_rest_over_time(
    deployment: tuple[Server, App],
) -> None:
    server, app = deployment
    ids = server.send(events("flow/throttled", [{"i": i} for i in range(8)]))
    for event_id in ids:  # none dropped
        server.wait_run(event_id, timeout=30)
    times = sorted(r["at"] for r in stats(app)["started"]["throttled"])
    assert len(times) == 8
    # 5 at once, then one per second (5 per 5 s).
    assert times[4] - times[0] < 0.8
    gaps = [b - a for a, b in itertools.pairwise(times[4:])]
    assert all(0.8 < g < 1.6 for g in gaps), gaps


@pytest.mark.timeout(60)
def test_rate_limit_skips_excess_events_which_stay_stored(deployment: tuple[Server, App]) -> None:
    server, app = deployment
    ids = server.send(events("flow/rate-limited", [{"user": "a", "i": i} for i in range(5)]))
    [other] = server.send(events("flow/rate-limited", [{"user": "b"}]))
    for event_id in [*ids[:2], other]:
        server.wait_run(event_id)
    for event_id in ids[2:]:
        assert server.get(f"/v1/events/{event_id}")["name"] == "flow/rate-limited"
        assert server.runs_for(event_id) == []
    assert len(stats(app)["started"]["rate-limited"]) == 3


@pytest.mark.timeout(60)
def test_debounce_runs_once_with_the_last_event(deployment: tuple[Server, App]) -> None:
    server, app = deployment
    for i in range(4):
        server.send(events("flow/debounced", [{"user": "a", "i": i}]))
    [b] = server.send(events("flow/debounced", [{"user": "b", "i": 9}]))
    server.wait_run(b, timeout=20)
    wait_for(lambda: len(stats(app)["started"].get("debounced", [])) == 2, 20, "two runs")
    got = {r["data"]["user"]: r["data"]["i"] for r in stats(app)["started"]["debounced"]}
    assert got == {"a": 3, "b": 9}


@pytest.mark.timeout(60)
def test_singleton_skip_starts_no_second_run_while_one_is_unfinished(
    deployment: tuple[Server, App],
) -> None:
    server, _ = deployment
    [first] = server.send(events("flow/single", [{"user": "a"}]))
    server.wait_step(first, "hold", "sleeping")
    [skipped] = server.send(events("flow/single", [{"user": "a"}]))
    [other] = server.send(events("flow/single", [{"user": "b"}]))
    server.wait_run(first, timeout=20)
    server.wait_run(other, timeout=20)
    assert server.runs_for(skipped) == []
    [after] = server.send(events("flow/single", [{"user": "a"}]))
    server.wait_run(after, timeout=20)
