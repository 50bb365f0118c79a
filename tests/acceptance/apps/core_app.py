"""The app the core acceptance tests drive: an Outlast SDK app served by Starlette.

Every step execution is appended to ``$COUNT_FILE`` as ``<run_id> <step>`` so tests can
count how often each step really ran (an append of one short line is atomic).
"""

from __future__ import annotations

import asyncio
import os
import time
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
        os.write(fd, f"{run_id} {step} {time.time():.3f}\n".encode())
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


@client.function(id="flaky", trigger=outlast.TriggerEvent(event="test/flaky"), retries=3)
async def flaky(ctx: outlast.Context) -> str:
    def attempt() -> str:
        record(ctx.run_id, "flaky")
        if ctx.attempt < 2:
            raise RuntimeError(f"transient failure on attempt {ctx.attempt}")
        return f"ok on attempt {ctx.attempt}"

    result: str = await ctx.step.run("flaky", attempt)
    return result


async def doomed_failed(ctx: outlast.Context) -> None:
    failed_run = ctx.event.data["run_id"]
    message = ctx.event.data["error"]["message"]
    await ctx.step.run(
        "record", lambda: record(failed_run, "on_failure:" + message.replace(" ", "_"))
    )


@client.function(
    id="doomed", trigger=outlast.TriggerEvent(event="test/doomed"), on_failure=doomed_failed
)
async def doomed(ctx: outlast.Context) -> None:
    def attempt() -> None:
        record(ctx.run_id, "doomed")
        raise outlast.NonRetriableError("the card was declined")

    await ctx.step.run("charge", attempt)


@client.function(id="patient", trigger=outlast.TriggerEvent(event="test/patient"), retries=2)
async def patient(ctx: outlast.Context) -> int:
    def attempt() -> int:
        record(ctx.run_id, "patient")
        if ctx.attempt == 0:
            raise outlast.RetryAfterError("rate limited", timedelta(seconds=2))
        return ctx.attempt

    result: int = await ctx.step.run("call-api", attempt)
    return result


@client.function(id="exhausted", trigger=outlast.TriggerEvent(event="test/exhausted"), retries=1)
async def exhausted(ctx: outlast.Context) -> str:
    def attempt() -> None:
        record(ctx.run_id, "exhausted")
        raise ValueError("still broken")

    try:
        await ctx.step.run("always-fails", attempt)
    except outlast.StepError as err:
        return f"caught {err.name}: {err.message}"
    return "unreachable"


@client.function(id="child", trigger=outlast.TriggerEvent(event="test/child"))
async def child(ctx: outlast.Context) -> dict[str, Any]:
    if ctx.event.data.get("fail"):
        raise outlast.NonRetriableError("child refused")
    doubled: int = await ctx.step.run("double", lambda: ctx.event.data["n"] * 2)
    return {"doubled": doubled}


@client.function(id="parent", trigger=outlast.TriggerEvent(event="test/parent"))
async def parent(ctx: outlast.Context) -> dict[str, Any]:
    ok = await ctx.step.invoke("call-child", function=child, data={"n": 21})
    try:
        await ctx.step.invoke("call-failing-child", function=child, data={"n": 1, "fail": True})
        failed = None
    except outlast.StepError as err:
        failed = err.message
    return {"child": ok, "failed": failed}


@client.function(id="fan-out", trigger=outlast.TriggerEvent(event="test/fan-out"), retries=2)
async def fan_out(ctx: outlast.Context) -> list[int]:
    def part(i: int) -> Any:
        def body() -> int:
            record(ctx.run_id, f"part-{i}")
            if i == 2 and ctx.attempt == 0:
                raise RuntimeError("part 2 fails once")
            return i * i

        return lambda: ctx.step.run(f"part-{i}", body)

    results = await ctx.step.parallel([part(i) for i in range(1, 4)])
    total: int = await ctx.step.run("sum", lambda: sum(results))
    return [*results, total]


@client.function(
    id="bounded",
    trigger=outlast.TriggerEvent(event="test/bounded"),
    timeouts=outlast.Timeouts(start="2s", finish="1s"),
)
async def bounded(ctx: outlast.Context) -> str:
    await ctx.step.run("before", lambda: record(ctx.run_id, "before"))
    await ctx.step.sleep("long-nap", "10s")
    await ctx.step.run("after", lambda: record(ctx.run_id, "after"))
    return "finished"


@client.function(id="huge", trigger=outlast.TriggerEvent(event="test/huge"))
async def huge(ctx: outlast.Context) -> str:
    try:
        await ctx.step.run("too-big", lambda: "x" * (5 * 1024 * 1024))
    except outlast.StepError as err:
        return f"{err.name}: {err.message} ({err.stack})"
    return "stored"


@client.function(id="quick-reply", trigger=outlast.TriggerEvent(event="test/ask"))
async def quick_reply(ctx: outlast.Context) -> Any:
    reply = await ctx.step.wait_for_event(
        "reply", event="test/ask", match="data.thread", timeout="3s"
    )
    return None if reply is None else reply.data["text"]


FUNCTIONS = [
    quick_reply,
    huge,
    bounded,
    five_steps,
    crash_steps,
    slow_step,
    flaky,
    doomed,
    patient,
    exhausted,
    child,
    parent,
    fan_out,
]

# ONLY_FUNCTIONS=a,b serves just those (to test re-syncs that change the function set).
if os.environ.get("ONLY_FUNCTIONS"):
    keep = set(os.environ["ONLY_FUNCTIONS"].split(","))
    FUNCTIONS = [f for f in FUNCTIONS if f.id in keep]

app = Starlette(
    routes=[
        Route(
            "/api/outlast",
            outlast.asgi.serve(client, FUNCTIONS),
            methods=["GET", "POST", "PUT"],
        )
    ]
)
