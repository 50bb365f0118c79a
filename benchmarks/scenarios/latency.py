"""``latency``: at light load (10 events/s), from an event being accepted (the event API
answered) to the first step of the run it starts running in the app; and from each step to
the next."""

from __future__ import annotations

import json
import time

import httpx

from benchmarks.common import Result, deploy, percentile, query, wait_for_runs
from benchmarks.scenarios.steps import step_gaps

SIZES = {"full": 300, "smoke": 30}
RATE = 10.0


def run(store: str, size: str) -> list[Result]:
    count = SIZES[size]
    accepted: dict[str, float] = {}
    with deploy(store) as dep, httpx.Client(timeout=30) as client:
        for _ in range(count):
            due = time.monotonic() + 1 / RATE
            r = client.post(f"{dep.server_url}/e/bench", json={"name": "bench/steps", "data": {}})
            r.raise_for_status()
            accepted[r.json()["ids"][0]] = time.time()
            time.sleep(max(0.0, due - time.monotonic()))
        wait_for_runs(dep, "bench-ten-steps", count, timeout=60)
        firsts = query(
            dep,
            "SELECT r.event_id, s.memo FROM steps s JOIN runs r ON r.id = s.run_id "
            "WHERE r.function_id = ? AND s.name = ?",
            ("bench-ten-steps", "step-0"),
        )
        rows = query(
            dep,
            "SELECT s.run_id, s.name, s.memo FROM steps s JOIN runs r ON r.id = s.run_id "
            "WHERE r.function_id = ? AND s.done = 1",
            ("bench-ten-steps",),
        )
    to_first = [
        (float(json.loads(memo)["data"]) - accepted[event_id]) * 1000 for event_id, memo in firsts
    ]
    gaps = step_gaps(rows)
    return [
        Result(
            scenario="latency",
            store=store,
            figures={
                "event_to_first_step_p50_ms": percentile(to_first, 50),
                "event_to_first_step_p99_ms": percentile(to_first, 99),
                "step_to_step_p50_ms": percentile(gaps, 50),
                "step_to_step_p99_ms": percentile(gaps, 99),
            },
            params={"events": count, "events_per_s": RATE, "steps_per_run": 10},
            notes=[
                "accepted: when the client got the event API's answer; the step's time is "
                "taken inside the app (same clock)"
            ],
        )
    ]
