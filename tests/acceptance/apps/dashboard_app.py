"""The app the dashboard's page tests (without a browser) drive.

``steps``: two steps, a one-second sleep between them, and a step that fails once then
succeeds (the server under test retries after 0.2 s). ``sleeper`` sleeps for an hour, to be
cancelled. ``picky`` runs only for events whose ``data.go`` is true (the others are
"filtered"). ``echo`` returns what it was given, for invoke.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

import outlast
import outlast.asgi

client = outlast.Client("dash-app")
FLAKY_ERROR = "the flaky step failed on purpose"


@client.function(id="steps", trigger=outlast.TriggerEvent(event="dash/steps"), retries=2)
async def steps(ctx: outlast.Context) -> dict[str, Any]:
    def first() -> int:
        return int(ctx.event.data.get("n", 1))

    def flaky() -> int:
        if ctx.attempt == 0:
            raise RuntimeError(FLAKY_ERROR)
        return n * 10

    n: int = await ctx.step.run("first", first)
    await ctx.step.sleep("nap", timedelta(seconds=1))
    result: int = await ctx.step.run("flaky", flaky)
    return {"n": n, "result": result}


@client.function(id="sleeper", trigger=outlast.TriggerEvent(event="dash/sleep"))
async def sleeper(ctx: outlast.Context) -> str:
    await ctx.step.sleep("an-hour", timedelta(hours=1))
    return "woke up"


@client.function(
    id="picky",
    trigger=outlast.TriggerEvent(event="dash/picky", expression="event.data.go == true"),
)
async def picky(ctx: outlast.Context) -> str:
    return "went"


@client.function(id="echo", trigger=outlast.TriggerEvent(event="dash/echo"))
async def echo(ctx: outlast.Context) -> dict[str, Any]:
    said: dict[str, Any] = await ctx.step.run("say", lambda: dict(ctx.event.data))
    return {"event": ctx.event.name, "data": said}


app = Starlette(
    routes=[
        Route(
            "/api/outlast",
            outlast.asgi.serve(client, [steps, sleeper, picky, echo]),
            methods=["GET", "POST", "PUT"],
        )
    ]
)
