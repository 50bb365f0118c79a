"""``steps``: 1,000 runs of a 10-step function (trivial steps) served by Outlast's SDK over
HTTP at concurrency 100: steps per second end to end, and step-to-step latency."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from benchmarks.common import Result, deploy, percentile, query, send_events, wait_for_runs

SIZES = {"full": (1000, 100), "smoke": (20, 10)}
STEPS_PER_RUN = 10


def measure(store: str, runs: int, concurrency: int) -> Result:
    """Send ``runs`` events at once; the server calls the app with at most ``concurrency``
    requests in flight. Time: first send to the last run's end (as the store recorded it)."""
    with deploy(store, server_args=["--queue-workers", str(concurrency)]) as dep:
        events = [{"name": "bench/steps", "data": {"i": i}} for i in range(runs)]
        started = time.time()
        asyncio.run(send_events(dep.server_url, events))
        wait_for_runs(dep, "bench-ten-steps", runs, timeout=60 + runs * 0.5)
        [(ended_ms, failed)] = query(
            dep,
            "SELECT MAX(ended_at), SUM(CASE WHEN status = 'completed' THEN 0 ELSE 1 END) "
            "FROM runs WHERE function_id = ?",
            ("bench-ten-steps",),
        )
        rows = query(
            dep,
            "SELECT s.run_id, s.name, s.memo FROM steps s JOIN runs r ON r.id = s.run_id "
            "WHERE r.function_id = ? AND s.done = 1",
            ("bench-ten-steps",),
        )
    elapsed = ended_ms / 1000 - started
    gaps = step_gaps(rows)
    return Result(
        scenario="steps",
        store=store,
        figures={
            "steps_per_s": runs * STEPS_PER_RUN / elapsed,
            "runs_per_s": runs / elapsed,
            "step_p50_ms": percentile(gaps, 50),
            "step_p99_ms": percentile(gaps, 99),
            "failed_runs": float(failed or 0),
        },
        params={"runs": runs, "steps_per_run": STEPS_PER_RUN, "concurrency": concurrency},
        notes=["step-to-step: from one step's start to the next one's, inside the app"],
    )


def step_gaps(rows: list[tuple[object, ...]]) -> list[float]:
    """Milliseconds between consecutive steps of each run (steps return their start time)."""
    by_run: dict[str, dict[int, float]] = {}
    for run_id, name, memo in rows:
        index = int(str(name).rsplit("-", 1)[1])
        by_run.setdefault(str(run_id), {})[index] = float(json.loads(str(memo))["data"])
    gaps: list[float] = []
    for times in by_run.values():
        ordered = [times[i] for i in sorted(times)]
        gaps += [(b - a) * 1000 for a, b in itertools.pairwise(ordered)]
    return gaps


def run(store: str, size: str) -> list[Result]:
    runs, concurrency = SIZES[size]
    return [measure(store, runs, concurrency)]
