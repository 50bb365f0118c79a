"""The app the benchmarks drive: Outlast's SDK served by Starlette. Steps return the time
they ran at, so latencies are measured from the step's side without any extra I/O."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

import outlast
import outlast.asgi

client = outlast.Client("bench")


@client.function(id="ten-steps", trigger=outlast.TriggerEvent(event="bench/steps"), retries=0)
async def ten_steps(ctx: outlast.Context) -> int:
    """Ten trivial steps; each returns when it ran (unix seconds)."""
    for i in range(10):
        await ctx.step.run(f"step-{i}", time.time)
    return 10


@client.function(id="one-step", trigger=outlast.TriggerEvent(event="bench/latency"), retries=0)
async def one_step(ctx: outlast.Context) -> float:
    started: float = await ctx.step.run("first", time.time)
    return started


@client.function(id="sleeper", trigger=outlast.TriggerEvent(event="bench/sleep"), retries=0)
async def sleeper(ctx: outlast.Context) -> dict[str, Any]:
    """Sleeps until ``data.until`` (ISO time), then records when it woke."""
    until = str(ctx.event.data["until"])
    await ctx.step.sleep_until("nap", datetime.fromisoformat(until))
    woke: float = await ctx.step.run("woke", time.time)
    return {"until": until, "woke": woke}


@client.function(
    id="fair",
    trigger=outlast.TriggerEvent(event="bench/fair"),
    retries=0,
    concurrency=[outlast.Concurrency(limit=10, key="event.data.key")],
)
async def fair(ctx: outlast.Context) -> float:
    """One 20 ms step, at most 10 at once per ``data.key``; returns when the step began."""

    async def work() -> float:
        began = time.time()
        await asyncio.sleep(0.02)
        return began

    began: float = await ctx.step.run("work", work)
    return began


app = Starlette(
    routes=[
        Route(
            "/api/outlast",
            outlast.asgi.serve(client, [ten_steps, one_step, sleeper, fair]),
            methods=["GET", "POST", "PUT"],
        )
    ]
)
