"""``timers``: many runs sleeping at once, then many sleeps falling due in a short window.

Phase 1 starts ``sleeping`` runs of the app's ``sleeper`` that sleep a day, waits until
every one has recorded its sleep, and measures the server's resident memory before and
after: a sleeping run should live in the store, not in the server's memory.

Phase 2, on the same deployment (the phase-1 runs still asleep, so their timers sit in the
queue too), sends ``due`` more runs whose wake-up times are spread evenly over ``window_s``
seconds, waits for them all to finish, and reads each run's output: the app records when
the step after the sleep ran (``woke``), and ``woke - until`` is how late it woke.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from benchmarks.common import POSTGRES_URI, Deployment, Result, deploy, percentile, rss_mb

FUNCTION_ID = "bench-sleeper"
EVENT = "bench/sleep"
#: Events per POST /e/{key}.
BATCH = 1000
#: A phase-1 sleep: far enough that nothing wakes during the scenario.
FAR_S = 24 * 3600
#: The least time between sending a phase-2 event and its wake-up.
MIN_LEAD_S = 5.0
#: A wait fails when its count has not moved for this long.
STALL_S = 60.0
#: How long the server is left alone before its memory is read.
SETTLE_S = 2.0
POLL_S = 0.5


@dataclass(frozen=True)
class Size:
    sleeping: int
    due: int
    window_s: float


SIZES = {
    "full": Size(sleeping=100_000, due=10_000, window_s=60.0),
    "smoke": Size(sleeping=300, due=100, window_s=5.0),
}

SLEEPS_SQL = (
    "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'sleeping') FROM steps WHERE op = 'Sleep'"
)
FINISHED_SQL = (
    "SELECT COUNT(*) FILTER (WHERE status = 'completed'), COUNT(*) FILTER "
    "(WHERE status IN ('failed', 'cancelled')) FROM runs "
    f"WHERE function_id = '{FUNCTION_ID}'"
)


class Probe:
    """Counts read straight from the server's store (read-only), without the server."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def open(self) -> None:
        if self.dep.store == "postgres":
            import asyncpg

            self._pg = await asyncpg.connect(
                POSTGRES_URI, server_settings={"search_path": str(self.dep.schema)}
            )
        else:
            path = self.dep.work / "db" / "outlast.db"
            self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()
        if self._sqlite is not None:
            self._sqlite.close()

    async def _pair(self, sql: str) -> tuple[int, int]:
        if self._pg is not None:
            row = await self._pg.fetchrow(sql)
        else:
            assert self._sqlite is not None
            row = self._sqlite.execute(sql).fetchone()
        return int(row[0]), int(row[1])

    async def sleeps(self) -> tuple[int, int]:
        """(sleeps ever recorded, steps sleeping now), over all runs."""
        return await self._pair(SLEEPS_SQL)

    async def finished(self) -> tuple[int, int]:
        """(completed, failed or cancelled) runs of the sleeper."""
        return await self._pair(FINISHED_SQL)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unix(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def send(http: httpx.AsyncClient, url: str, untils: list[float]) -> None:
    """One run per time, in batches of :data:`BATCH` events."""
    for i in range(0, len(untils), BATCH):
        events = [{"name": EVENT, "data": {"until": iso(t)}} for t in untils[i : i + BATCH]]
        r = await http.post(f"{url}/e/bench", json=events)
        r.raise_for_status()


async def wait_count(
    what: str,
    count: Callable[[], Awaitable[int]],
    target: int,
    deadline: float,
    on_poll: Callable[[], None] | None = None,
) -> float:
    """Poll ``count()`` until it reaches ``target``; the time it did. Fails past ``deadline``
    (monotonic) or when the count has not moved for :data:`STALL_S`."""
    last, moved = -1, time.monotonic()
    while True:
        n = await count()
        now = time.monotonic()
        if on_poll is not None:
            on_poll()
        if n >= target:
            return now
        if n != last:
            last, moved = n, now
        if now > deadline or now - moved > STALL_S:
            raise TimeoutError(f"waiting for {what}: {n} of {target} after {now - moved:.0f}s")
        await asyncio.sleep(POLL_S)


async def completed_outputs(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    """Every completed sleeper run's output, through ``GET /v1/runs`` (newest first)."""
    outputs: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"function_id": FUNCTION_ID, "status": "Completed", "limit": "1000"}
        if cursor is not None:
            params["cursor"] = cursor
        r = await http.get(f"{url}/v1/runs", params=params)
        r.raise_for_status()
        page: list[dict[str, Any]] = r.json()["data"]
        if not page:
            return outputs
        for run in page:
            out = run["output"]
            outputs.append(json.loads(out) if isinstance(out, str) else out)
        cursor = page[-1]["run_id"]


async def scenario(dep: Deployment, size: Size) -> tuple[dict[str, float], list[str]]:
    pid = dep.server.pid
    figures: dict[str, float] = {}
    notes: list[str] = []
    probe = Probe(dep)
    await probe.open()
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            await asyncio.sleep(SETTLE_S)
            idle = rss_mb(pid)
            figures["idle_rss_mb"] = idle

            # Phase 1: `sleeping` runs asleep for a day.
            peak = idle

            def sample() -> None:
                nonlocal peak
                dep.server.alive()
                peak = max(peak, rss_mb(pid))

            start = time.monotonic()
            far = time.time() + FAR_S
            await send(http, dep.server_url, [far] * size.sleeping)
            sent = time.monotonic()

            async def sleeping_now() -> int:
                return (await probe.sleeps())[1]

            deadline = start + max(120.0, size.sleeping / 20)
            asleep = await wait_count(
                "runs to sleep", sleeping_now, size.sleeping, deadline, sample
            )
            rate = size.sleeping / (asleep - start)
            figures["sleeping_runs_per_s"] = rate
            figures["ingest_events_per_s"] = size.sleeping / (sent - start)
            await asyncio.sleep(SETTLE_S)
            sleeping_rss = rss_mb(pid)
            figures["sleeping_rss_mb"] = sleeping_rss
            figures["rss_added_mb"] = sleeping_rss - idle
            figures["peak_rss_mb"] = max(peak, sleeping_rss)

            # Phase 2: `due` sleeps falling due evenly over `window_s`, sent all at once
            # ahead of time: the lead leaves room to start them all (at phase 1's rate,
            # with a margin) before the first is due, so lateness is the timers' alone.
            lead = MIN_LEAD_S + 1.5 * size.due / rate
            t0 = time.time() + lead
            step = size.window_s / size.due
            untils = [t0 + i * step for i in range(size.due)]
            start = time.monotonic()
            await send(http, dep.server_url, untils)

            async def recorded() -> int:
                return (await probe.sleeps())[0]

            first_due = start + lead
            last_due = first_due + size.window_s
            ready = await wait_count(
                "phase-2 runs to sleep",
                recorded,
                size.sleeping + size.due,
                last_due + 120,
                sample,
            )
            figures["ready_slack_s"] = first_due - ready
            if ready > first_due:
                notes.append(
                    f"phase 2: the last run started sleeping {ready - first_due:.1f}s after "
                    "the first sleep was due, so early lateness includes starting runs"
                )

            async def finished() -> int:
                completed, failed = await probe.finished()
                if failed:
                    raise RuntimeError(f"{failed} sleeper runs failed or were cancelled")
                return completed

            # No counting while the sleeps fall due (it scans the tables): only the memory.
            while time.monotonic() < last_due:
                sample()
                await asyncio.sleep(1.0)
            await wait_count("phase-2 runs to finish", finished, size.due, last_due + 120, sample)
            await asyncio.sleep(SETTLE_S)
            figures["after_wakes_rss_mb"] = rss_mb(pid)
            figures["peak_rss_mb"] = max(peak, figures["after_wakes_rss_mb"])

            outputs = await completed_outputs(http, dep.server_url)
    finally:
        await probe.close()
    if len(outputs) != size.due:
        raise RuntimeError(f"{len(outputs)} completed runs listed, expected {size.due}")
    late = [(float(o["woke"]) - unix(str(o["until"]))) * 1000 for o in outputs]
    figures["lateness_p50_ms"] = percentile(late, 50)
    figures["lateness_p99_ms"] = percentile(late, 99)
    figures["lateness_max_ms"] = max(late)
    figures["lateness_min_ms"] = min(late)
    figures["lead_s"] = lead
    return figures, notes


def run(store: str, size: str) -> list[Result]:
    s = SIZES[size]
    with deploy(store) as dep:
        figures, extra = asyncio.run(scenario(dep, s))
    notes = [
        "one deployment for both phases: the phase-1 runs stay asleep through phase 2",
        "RSS is the server process's VmRSS; idle is read after sync, the others "
        f"{SETTLE_S:.0f}s after the runs reached their sleep or finished; peak is sampled "
        f"every {POLL_S}s",
        "sleeping_runs_per_s: from the first event sent until every run has recorded its "
        "sleep (ingest, one app call per run, the sleep's step and timer)",
        "lateness = when the step after the sleep ran in the app - the time slept until: it "
        "includes the server's call to the app that resumes the run, not just the timer",
        f"phase 2 sends all its events at once, {MIN_LEAD_S:.0f}s + 1.5x the time phase 1 "
        "took to start as many runs before the first wake-up (lead_s)",
        *extra,
    ]
    params: dict[str, Any] = {
        "size": size,
        "sleeping_runs": s.sleeping,
        "due_sleeps": s.due,
        "window_s": s.window_s,
        "batch": BATCH,
    }
    return [Result(scenario="timers", store=store, figures=figures, params=params, notes=notes)]
