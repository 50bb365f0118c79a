"""The app the run management tests drive (pause, replay, rerun).

Every step execution is appended to ``$COUNT_FILE`` as ``<run_id> <step>``, so the tests
see which steps of which run really ran.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

import outlast

client = outlast.Client("manage-app")
COUNT_FILE = os.environ.get("COUNT_FILE", "/dev/null")


def record(run_id: str, step: str) -> None:
    fd = os.open(COUNT_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{run_id} {step}\n".encode())
    finally:
        os.close(fd)


@client.function(id="steps", trigger=outlast.TriggerEvent(event="test/manage"))
async def steps(ctx: outlast.Context) -> dict[str, Any]:
    def one() -> int:
        record(ctx.run_id, "one")
        return int(ctx.event.data["n"])

    first: int = await ctx.step.run("one", one)

    def two() -> int:
        record(ctx.run_id, "two")
        return first * 10

    second: int = await ctx.step.run("two", two)

    def three() -> int:
        record(ctx.run_id, "three")
        return second + 1

    third: int = await ctx.step.run("three", three)
    return {"n": first, "result": third}


@client.function(
    id="tally",
    trigger=outlast.TriggerEvent(event="test/manage", expression="event.data.tally == true"),
)
async def tally(ctx: outlast.Context) -> int:
    await ctx.step.run("count", lambda: record(ctx.run_id, "count"))
    return int(ctx.event.data["n"])


app = Starlette(
    routes=[
        Route(
            "/api/outlast",
            outlast.asgi.serve(client, [steps, tally]),
            methods=["GET", "POST", "PUT"],
        )
    ]
)
