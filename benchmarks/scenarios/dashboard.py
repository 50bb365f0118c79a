"""``dashboard``: the dashboard's pages and the REST run list with 100,000 runs in the store
(issue 6: lists page, nothing loads everything at once, pages stay fast). The runs, each
with its event and steps, are written straight into the store's tables (setup, not
measured); then each page is fetched over HTTP, one request at a time: p50 and p99
milliseconds, and its size in KB."""

from __future__ import annotations

import asyncio
import contextlib
import html
import random
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from benchmarks.common import POSTGRES_URI, Deployment, Result, deploy, percentile
from outlast.protocol.ids import hash_step_id, now_ms, ulid_at
from outlast.protocol.jsonutil import dumps_str

#: Runs in the store, and timed requests per page.
SIZES = {"full": (100_000, 30), "smoke": (2_000, 10)}
#: The benchmark app's functions: (id, share of the runs, trigger event, steps as (name, op)).
FUNCTIONS: tuple[tuple[str, float, str, tuple[tuple[str, str], ...]], ...] = (
    ("bench-ten-steps", 0.4, "bench/steps", tuple((f"step-{i}", "StepRun") for i in range(10))),
    ("bench-one-step", 0.3, "bench/latency", (("first", "StepRun"),)),
    ("bench-sleeper", 0.15, "bench/sleep", (("nap", "Sleep"), ("woke", "StepRun"))),
    ("bench-fair", 0.15, "bench/fair", (("work", "StepRun"),)),
)
#: Share of each status: mostly completed, as in a store that has been running a while.
STATUSES = (
    ("completed", 0.92),
    ("failed", 0.05),
    ("cancelled", 0.015),
    ("running", 0.01),
    ("queued", 0.005),
)
#: The runs were queued over the last day: the functions pages' 24 h success rates count
#: every one of them (the most those pages ever read).
SPAN_MS = 86_400_000
BATCH = 10_000
#: Integer columns among the ones seeded (the others are text).
_NUMBERS = ("attempts", "done")


def _typed(names: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (c, "bigint" if c.endswith("_at") or c in _NUMBERS else "text") for c in names.split()
    )


#: What each table is seeded with: (column, PostgreSQL type); the others keep their default.
COLUMNS = {
    "events": _typed("internal_id name payload received_at"),
    "runs": _typed(
        "id function_id status event_id events queued_at started_at ended_at output error stack"
    ),
    "steps": _typed(
        "run_id hash name op status attempts done memo error scheduled_at started_at ended_at"
    ),
}
PAGE_ROWS = 50
_NEXT = re.compile(r'href="([^"]+)" data-testid="runs-next"')


@dataclass
class Seed:
    """Rows to insert, by table, and the records whose own pages are timed."""

    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {table: [] for table in COLUMNS}
    )
    #: A completed run of ``bench-ten-steps`` (ten steps) and the event that started it.
    run_id: str = ""
    event_id: str = ""
    window: tuple[int, int] = (0, 0)


def _json(value: Any) -> str | None:
    return None if value is None else dumps_str(value)


def seed_rows(runs: int, now: int, rng: random.Random) -> Seed:
    """``runs`` runs queued over the day before ``now``, shaped as the server writes them
    (ids are ULIDs of the queued time, as ``Machine.new_run`` makes them)."""
    seed = Seed()
    functions = rng.choices(FUNCTIONS, [f[1] for f in FUNCTIONS], k=runs)
    statuses = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES], k=runs)
    times = sorted(rng.randrange(now - SPAN_MS, now - 60_000) for _ in range(runs))
    for n, ((function_id, _, event_name, steps), status, queued) in enumerate(
        zip(functions, statuses, times, strict=True)
    ):
        event_id, run_id = ulid_at(queued), ulid_at(queued)
        data: dict[str, Any] = {"i": n, "customer": f"cus_{rng.randrange(10**6):06d}"}
        data["amount"] = rng.randrange(100, 100_000)
        if function_id == "bench-fair":
            data["key"] = f"tenant-{rng.randrange(20)}"
        event = {"name": event_name, "data": data, "id": event_id, "ts": queued, "user": {}}
        seed.rows["events"].append((event_id, event_name, dumps_str(event), queued))
        # How many steps ended: all of a completed run's; a failed run's last one failed
        # (a step.run: a sleep does not fail).
        if status == "failed":
            done = 1 + rng.choice([i for i, (_, op) in enumerate(steps) if op == "StepRun"])
        else:
            done = {"completed": len(steps), "queued": 0}.get(status, rng.randrange(len(steps)))
        started = None if status == "queued" else queued + rng.randrange(1, 20)
        at = started or queued
        stack: list[str] = []
        error: dict[str, str] | None = None
        for name, op in steps[:done]:
            at += 60_000 if op == "Sleep" else rng.randrange(1, 30)
            stack.append(hash_step_id(name))
            memo: Any = {"data": at / 1000} if op == "StepRun" else None
            row = [run_id, stack[-1], name, op, "completed", 1, 1, dumps_str(memo), None]
            if status == "failed" and len(stack) == done:
                error = {"name": "Error", "message": f"card declined for order {n}"}
                row[3:5] = ["StepError", "failed"]
                row[7:9] = [dumps_str({"error": error}), dumps_str(error)]
            seed.rows["steps"].append((*row, at, at, at))
        ended = at + 2 if status in ("completed", "failed", "cancelled") else None
        if status == "cancelled":
            error = {"name": "Cancelled", "message": "cancelled from the dashboard"}
        output = _json(len(stack) if status == "completed" else None)
        record = (run_id, function_id, status, event_id, dumps_str([event]), queued, started)
        seed.rows["runs"].append((*record, ended, output, _json(error), dumps_str(stack)))
        if function_id == "bench-ten-steps" and status == "completed":
            seed.run_id, seed.event_id = run_id, event_id
    middle = now - SPAN_MS // 2
    seed.window = (middle - 1_800_000, middle + 1_800_000)
    return seed


def batches(rows: Sequence[tuple[Any, ...]]) -> Iterator[Sequence[tuple[Any, ...]]]:
    for i in range(0, len(rows), BATCH):
        yield rows[i : i + BATCH]


def insert_sqlite(dep: Deployment, seed: Seed) -> None:
    """Through the database file while the server runs (WAL: its readers go on)."""
    path = dep.work / "db" / "outlast.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("PRAGMA synchronous = NORMAL")
        for table, columns in COLUMNS.items():
            names = ", ".join(c for c, _ in columns)
            sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
            for chunk in batches(seed.rows[table]):
                db.execute("BEGIN IMMEDIATE")
                db.executemany(sql, chunk)
                db.execute("COMMIT")


async def insert_postgres(dep: Deployment, seed: Seed) -> None:
    """One multi-row INSERT per batch (``unnest`` of one array per column). Then VACUUM
    ANALYZE, which autovacuum would have done in a store that grew to this size."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URI, server_settings={"search_path": str(dep.schema)})
    try:
        for table, columns in COLUMNS.items():
            names = ", ".join(c for c, _ in columns)
            arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(columns, start=1))
            sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})"
            for chunk in batches(seed.rows[table]):
                await conn.execute(sql, *(list(c) for c in zip(*chunk, strict=True)))
        await conn.execute("VACUUM (ANALYZE) events, runs, steps")
    finally:
        await conn.close()


def iso(ms: int) -> str:
    """As the runs filter form sends a time (UTC, no zone)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def fetch(client: httpx.Client, url: str, requests: int) -> tuple[list[float], httpx.Response]:
    """One warm-up request, then ``requests`` timed ones (body read), one at a time."""
    client.get(url).raise_for_status()
    took: list[float] = []
    for _ in range(requests):
        began = time.perf_counter()
        r = client.get(url)
        took.append((time.perf_counter() - began) * 1000)
        r.raise_for_status()
    return took, r


def check(page: str, r: httpx.Response) -> None:
    """The page shows what it should: a full page of rows, not an error or an empty list."""
    if page.startswith("runs") and r.text.count('data-testid="run-row"') != PAGE_ROWS:
        raise RuntimeError(f"{page}: expected {PAGE_ROWS} runs on {r.url}")
    if page == "api_runs" and len(r.json()["data"]) != 100:
        raise RuntimeError(f"{page}: expected 100 runs from {r.url}")


def measure(dep: Deployment, seed: Seed, requests: int) -> dict[str, float]:
    since, until = seed.window
    pages = {
        "runs": "/runs",
        "runs_failed": "/runs?status=failed",
        "runs_function": "/runs?function_id=bench-one-step",
        "runs_window": f"/runs?since={iso(since)}&until={iso(until)}",
        "runs_page2": "",  # the first page's "Next page" link, below
        "run": f"/runs/{seed.run_id}",
        "functions": "/functions",
        "function": "/functions/bench-ten-steps",
        "events": "/events",
        "event": f"/events/{seed.event_id}",
        "api_runs": "/v1/runs?limit=100",
    }
    figures: dict[str, float] = {}
    with httpx.Client(base_url=dep.server_url, timeout=60) as client:
        for page, url in pages.items():
            if page == "runs_page2":
                found = _NEXT.search(client.get("/runs").text)
                if found is None:
                    raise RuntimeError("/runs has no next page link")
                url = html.unescape(found.group(1))
            took, r = fetch(client, url, requests)
            check(page, r)
            figures[f"{page}_p50_ms"] = percentile(took, 50)
            figures[f"{page}_p99_ms"] = percentile(took, 99)
            figures[f"{page}_kb"] = len(r.content) / 1024
    return figures


def run(store: str, size: str) -> list[Result]:
    runs, requests = SIZES[size]
    seed = seed_rows(runs, now_ms(), random.Random(6))
    with deploy(store) as dep:
        began = time.monotonic()
        if store == "sqlite":
            insert_sqlite(dep, seed)
        else:
            asyncio.run(insert_postgres(dep, seed))
        seeded = time.monotonic() - began
        counts = {table: len(rows) for table, rows in seed.rows.items()}
        seed.rows.clear()  # hundreds of MB at full size: not kept while pages are timed
        figures = measure(dep, seed, requests)
    return [
        Result(
            scenario="dashboard",
            store=store,
            figures=figures,
            params={
                "runs": runs,
                "events": counts["events"],
                "steps": counts["steps"],
                "functions": len(FUNCTIONS),
                "span_h": SPAN_MS // 3_600_000,
                "requests_per_page": requests,
            },
            notes=[
                "statuses: " + ", ".join(f"{s} {w:.1%}" for s, w in STATUSES),
                "one event per run, its trigger (the server would add function.finished ones)",
                f"one request at a time after one warm-up per page: p99 of {requests} is the "
                "slowest; kb: the page's body",
                f"rows inserted into the tables in {seeded:.1f} s before timing (not measured)",
            ],
        )
    ]
