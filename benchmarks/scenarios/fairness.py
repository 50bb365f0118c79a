"""``fairness``: one concurrency key with 10,000 queued runs; how long does a run of another
key wait? The function allows 10 steps at once per ``event.data.key`` and each step takes
20 ms, so the heavy key's backlog lasts about 20 s; while it drains, light-key events
arrive one every 200 ms and their delay (event accepted → its step running) is measured."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from benchmarks.common import (
    Result,
    deploy,
    percentile,
    query,
    send_events,
    wait_for_runs,
    wait_until,
)

SIZES = {"full": (10_000, 20), "smoke": (300, 3)}
FUNCTION = "bench-fair"


def run(store: str, size: str) -> list[Result]:
    heavy, light = SIZES[size]
    accepted: dict[str, float] = {}
    with deploy(store) as dep, httpx.Client(timeout=30) as client:
        events = [{"name": "bench/fair", "data": {"key": "heavy", "i": i}} for i in range(heavy)]
        asyncio.run(send_events(dep.server_url, events))
        sql = "SELECT COUNT(*) FROM runs WHERE function_id = ?"
        wait_until(lambda: query(dep, sql, (FUNCTION,))[0][0] >= heavy, 60, "the heavy runs")
        for i in range(light):
            r = client.post(
                f"{dep.server_url}/e/bench",
                json={"name": "bench/fair", "data": {"key": f"light-{i}"}},
            )
            r.raise_for_status()
            accepted[r.json()["ids"][0]] = time.time()
            time.sleep(0.2)
        wait_for_runs(dep, FUNCTION, heavy + light, timeout=120 + heavy * 0.02)
        ends = query(dep, "SELECT event_id, ended_at FROM runs WHERE function_id = ?", (FUNCTION,))
        rows = query(
            dep,
            "SELECT r.event_id, s.memo FROM steps s JOIN runs r ON r.id = s.run_id "
            "WHERE r.function_id = ? AND s.name = ?",
            (FUNCTION, "work"),
        )
    delays = [
        (float(json.loads(memo)["data"]) - accepted[event_id]) * 1000
        for event_id, memo in rows
        if event_id in accepted
    ]
    # How many heavy runs were still unfinished when the last light run's step began: the
    # measurement only means something if the backlog was there the whole time.
    last_light = max((float(json.loads(m)["data"]) for e, m in rows if e in accepted), default=0)
    backlog = sum(1 for e, end in ends if e not in accepted and end / 1000 > last_light)
    return [
        Result(
            scenario="fairness",
            store=store,
            figures={
                "other_key_delay_p50_ms": percentile(delays, 50),
                "other_key_delay_max_ms": max(delays) if delays else float("nan"),
                "heavy_runs_left_after_last_light": float(backlog),
            },
            params={"heavy_runs": heavy, "light_runs": light, "limit_per_key": 10, "step_ms": 20},
            notes=[
                "delay: from the event API's answer to the light run's step starting in the app"
            ],
        )
    ]
