"""The app the flow-control acceptance tests drive. Every function records what it does in
this process's memory, and ``GET /stats`` reports it: how many steps of each key were
executing at once at most, and the order and times in which runs started."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import outlast

client = outlast.Client("flow-app")

running: dict[str, int] = defaultdict(int)
peak: dict[str, int] = defaultdict(int)
done: dict[str, list[float]] = defaultdict(list)
started: dict[str, list[dict[str, Any]]] = defaultdict(list)


async def work(user: str, seconds: float) -> None:
    running[user] += 1
    peak[user] = max(peak[user], running[user])
    try:
        await asyncio.sleep(seconds)
    finally:
        running[user] -= 1
    done[user].append(time.time())


@client.function(
    id="per-user",
    trigger=outlast.TriggerEvent(event="flow/per-user"),
    concurrency=[outlast.Concurrency(limit=3, key="event.data.user")],
)
async def per_user(ctx: outlast.Context) -> str:
    user = str(ctx.event.data["user"])
    await ctx.step.run("work", lambda: work(user, 0.05))
    # A sleeping run holds no slot: the runs behind it go on meanwhile.
    await ctx.step.sleep("rest", timedelta(milliseconds=300))
    await ctx.step.run("more", lambda: work(user, 0.05))
    return user


def record(name: str, ctx: outlast.Context) -> None:
    started[name].append({"at": time.time(), "data": ctx.event.data, "run_id": ctx.run_id})


@client.function(
    id="throttled",
    trigger=outlast.TriggerEvent(event="flow/throttled"),
    throttle=outlast.Throttle(limit=5, period=timedelta(seconds=5)),
)
async def throttled(ctx: outlast.Context) -> None:
    await ctx.step.run("start", lambda: record("throttled", ctx))


@client.function(
    id="rate-limited",
    trigger=outlast.TriggerEvent(event="flow/rate-limited"),
    rate_limit=outlast.RateLimit(limit=2, period=timedelta(minutes=1), key="event.data.user"),
)
async def rate_limited(ctx: outlast.Context) -> None:
    await ctx.step.run("start", lambda: record("rate-limited", ctx))


@client.function(
    id="debounced",
    trigger=outlast.TriggerEvent(event="flow/debounced"),
    debounce=outlast.Debounce(period=timedelta(seconds=1), key="event.data.user"),
)
async def debounced(ctx: outlast.Context) -> None:
    await ctx.step.run("start", lambda: record("debounced", ctx))


@client.function(
    id="single",
    trigger=outlast.TriggerEvent(event="flow/single"),
    singleton=outlast.Singleton(mode="skip", key="event.data.user"),
)
async def single(ctx: outlast.Context) -> None:
    await ctx.step.run("start", lambda: record("single", ctx))
    await ctx.step.sleep("hold", timedelta(seconds=2))


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"peak": peak, "running": running, "done": done, "started": started})


FUNCTIONS = [per_user, throttled, rate_limited, debounced, single]
app = Starlette(
    routes=[
        Route(
            "/api/outlast", outlast.asgi.serve(client, FUNCTIONS), methods=["GET", "POST", "PUT"]
        ),
        Route("/stats", stats, methods=["GET"]),
    ]
)
