"""The app the core acceptance tests drive: an Outlast SDK app served by Starlette.

Every step execution is appended to ``$COUNT_FILE`` as ``<run_id> <step>`` so tests can
count how often each step really ran (an append of one short line is atomic).
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

import outlast

client = outlast.Client("core-app")
COUNT_FILE = os.environ.get("COUNT_FILE", "/dev/null")


def record(run_id: str, step: str) -> None:
    fd = os.open(COUNT_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{run_id} {step}\n".encode())
    finally:
        os.close(fd)


def counted(ctx: outlast.Context, name: str, value: Any) -> Any:
    def body() -> Any:
        record(ctx.run_id, name)
        return value

    return body


@client.function(id="five-steps", trigger=outlast.TriggerEvent(event="test/five"))
async def five_steps(ctx: outlast.Context) -> dict[str, Any]:
    total = 0
    for i in range(1, 6):
        total += await ctx.step.run(f"step-{i}", counted(ctx, f"step-{i}", i * 10))
    await ctx.step.sleep("nap", timedelta(seconds=1))
    approval = await ctx.step.wait_for_event(
        "approval",
        event="test/approve",
        if_exp="async.data.order == event.data.order",
        timeout="30s",
    )
    return {
        "total": total,
        "approved_by": approval.data["by"] if approval else None,
        "order": ctx.event.data["order"],
    }


@client.function(id="crash-steps", trigger=outlast.TriggerEvent(event="test/crash"))
async def crash_steps(ctx: outlast.Context) -> int:
    total = 0
    for i in range(1, 6):

        async def body(i: int = i) -> int:
            record(ctx.run_id, f"step-{i}")
            await asyncio.sleep(0.02)
            return i

        total += await ctx.step.run(f"step-{i}", body)
    return total


@client.function(id="slow-step", trigger=outlast.TriggerEvent(event="test/slow"))
async def slow_step(ctx: outlast.Context) -> str:
    async def slow() -> str:
        record(ctx.run_id, "slow")
        await asyncio.sleep(float(ctx.event.data.get("seconds", 3)))
        return "done"

    result: str = await ctx.step.run("slow", slow)
    return result


app = Starlette(
    routes=[
        Route(
            "/api/outlast",
            outlast.asgi.serve(client, [five_steps, crash_steps, slow_step]),
            methods=["GET", "POST", "PUT"],
        )
    ]
)
