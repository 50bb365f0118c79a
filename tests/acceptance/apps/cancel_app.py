"""The app the bulk cancellation tests drive: functions that sleep for an hour after a
first step, so their runs stay unfinished until something cancels them."""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette
from starlette.routing import Route

import outlast

client = outlast.Client("cancel-app")


@client.function(id="nap", trigger=outlast.TriggerEvent(event="test/nap"))
async def nap(ctx: outlast.Context) -> str:
    await ctx.step.run("before", lambda: "ready")
    await ctx.step.sleep("nap", timedelta(hours=1))
    return "woke"


@client.function(id="other-nap", trigger=outlast.TriggerEvent(event="test/other-nap"))
async def other_nap(ctx: outlast.Context) -> str:
    await ctx.step.sleep("nap", timedelta(hours=1))
    return "woke"


app = Starlette(
    routes=[
        Route(
            "/api/outlast",
            outlast.asgi.serve(client, [nap, other_nap]),
            methods=["GET", "POST", "PUT"],
        )
    ]
)
