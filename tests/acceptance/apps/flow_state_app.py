"""The app the dashboard's flow-control test drives: ``held`` runs a step that holds its
concurrency slot until ``POST /release`` (or a minute), so the limit stays full while the
test reads the page; ``batched`` and ``debounced`` wait a minute before they run, so their
open batch and pending debounce stay in the store meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import outlast
import outlast.asgi

client = outlast.Client("flow-state-app")
released = asyncio.Event()
#: Steps of ``held`` executing now.
holding = 0


async def hold() -> str:
    global holding
    holding += 1
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), 60)
    finally:
        holding -= 1
    return "released"


@client.function(
    id="held",
    trigger=outlast.TriggerEvent(event="state/held"),
    concurrency=[outlast.Concurrency(limit=2, key="event.data.user")],
)
async def held(ctx: outlast.Context) -> str:
    return str(await ctx.step.run("hold", hold))


@client.function(
    id="batched",
    trigger=outlast.TriggerEvent(event="state/batched"),
    batch_events=outlast.Batch(max_size=50, timeout=timedelta(minutes=1), key="event.data.user"),
)
async def batched(ctx: outlast.Context) -> int:
    return len(ctx.events)


@client.function(
    id="debounced",
    trigger=outlast.TriggerEvent(event="state/debounced"),
    debounce=outlast.Debounce(period=timedelta(minutes=1), key="event.data.user"),
)
async def debounced(ctx: outlast.Context) -> dict[str, Any]:
    return dict(ctx.event.data)


async def release(request: Request) -> JSONResponse:
    released.set()
    return JSONResponse({"released": True})


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"holding": holding})


app = Starlette(
    routes=[
        Route(
            "/api/outlast",
            outlast.asgi.serve(client, [held, batched, debounced]),
            methods=["GET", "POST", "PUT"],
        ),
        Route("/release", release, methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
    ]
)
