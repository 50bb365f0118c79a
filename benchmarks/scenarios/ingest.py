"""``ingest``: events accepted per second through ``POST /e/{key}`` — in batches of 100,
and single events from 50 concurrent clients (with latency) — against the **limit**: the
same number of rows inserted straight into the store, with the same durability settings,
so the API's overhead is a ratio."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from benchmarks.common import (
    POSTGRES_URI,
    Result,
    deploy,
    drop_schema,
    http_client,
    percentile,
    post_events,
    send_events,
)
from outlast.domain import EventRecord
from outlast.protocol import ids
from outlast.store import Store

SIZES = {"full": (100_000, 10_000), "smoke": (2_000, 500)}
BATCH = 100
BATCH_CLIENTS = 4
SINGLE_CLIENTS = 50


def event(i: int) -> dict[str, object]:
    return {"name": "bench/ingested", "data": {"i": i, "user": f"u{i % 1000}"}}


async def singles(url: str, count: int) -> tuple[float, list[float]]:
    """``count`` single-event requests from SINGLE_CLIENTS concurrent clients: (seconds,
    per-request latencies in ms)."""
    latencies: list[float] = []
    per_client = count // SINGLE_CLIENTS

    async def client_loop(client: aiohttp.ClientSession, c: int) -> None:
        for i in range(per_client):
            t0 = time.perf_counter()
            await post_events(client, url, event(c * per_client + i))
            latencies.append((time.perf_counter() - t0) * 1000)

    async with http_client(SINGLE_CLIENTS) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client, c) for c in range(SINGLE_CLIENTS)))
        return time.perf_counter() - started, latencies


async def store_limit(store: str, count: int) -> float:
    """Rows per second inserted straight into a fresh store, in transactions of BATCH."""
    records = [
        EventRecord(iid, "bench/ingested", {**event(i), "id": iid, "ts": 0}, 0)
        for i, iid in enumerate(ids.monotonic_ulids(ids.now_ms(), count))
    ]
    with tempfile.TemporaryDirectory(prefix="outlast-bench-limit-") as tmp:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        db: Store
        if store == "sqlite":
            from outlast.store.sqlite import SQLiteStore

            db = SQLiteStore(Path(tmp) / "outlast.db")
        else:
            from outlast.store.postgres import PostgresStore

            db = PostgresStore(POSTGRES_URI, schema=schema)
        try:
            async with db:
                chunks = [records[i : i + BATCH] for i in range(0, count, BATCH)]

                async def writer(mine: list[list[EventRecord]]) -> None:
                    for chunk in mine:
                        async with db.tx() as s:
                            await s.insert_events(chunk)

                # As many writers as the API test has clients (PostgreSQL commits them in
                # parallel; SQLite takes one at a time either way).
                started = time.perf_counter()
                await asyncio.gather(
                    *(writer(chunks[w::BATCH_CLIENTS]) for w in range(BATCH_CLIENTS))
                )
                return count / (time.perf_counter() - started)
        finally:
            if store == "postgres":
                await drop_schema(schema)


def run(store: str, size: str) -> list[Result]:
    batched, single = SIZES[size]
    with deploy(store, app=None) as dep:
        started = time.perf_counter()
        asyncio.run(
            send_events(
                dep.server_url,
                [event(i) for i in range(batched)],
                batch=BATCH,
                clients=BATCH_CLIENTS,
            )
        )
        batch_rate = batched / (time.perf_counter() - started)
        seconds, latencies = asyncio.run(singles(dep.server_url, single))
    limit = asyncio.run(store_limit(store, batched))
    return [
        Result(
            scenario="ingest",
            store=store,
            figures={
                "batch_events_per_s": batch_rate,
                "single_events_per_s": len(latencies) / seconds,
                "single_p50_ms": percentile(latencies, 50),
                "single_p99_ms": percentile(latencies, 99),
                "store_limit_rows_per_s": limit,
                "limit_over_api": limit / batch_rate,
            },
            params={
                "batched_events": batched,
                "batch": BATCH,
                "batch_clients": BATCH_CLIENTS,
                "single_events": single,
                "single_clients": SINGLE_CLIENTS,
            },
            notes=[
                "no function listens to the events: this measures the event API and the store",
                "limit: Store.insert_events in transactions of 100 rows from 4 concurrent "
                "writers, with the server's settings",
            ],
        )
    ]
