"""The compatibility scenarios written with Outlast's own SDK: the same functions as
``official_py.py`` and ``official_js/app.mjs``, so one scenario list checks all three."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import outlast
import outlast.asgi

P = "compat/ol"
client = outlast.Client("compat-ol")


def on(name: str) -> outlast.TriggerEvent:
    return outlast.TriggerEvent(event=f"{P}.{name}")


@client.function(id="steps", trigger=on("steps"))
async def steps(ctx: outlast.Context) -> dict[str, Any]:
    doubled: int = await ctx.step.run("double", lambda: ctx.event.data["n"] * 2)
    return {"result": await ctx.step.run("add-one", lambda: doubled + 1)}


@client.function(id="sleep", trigger=on("sleep"))
async def sleep(ctx: outlast.Context) -> str:
    await ctx.step.sleep("nap", timedelta(seconds=1))
    return "slept"


@client.function(id="sleep-until", trigger=on("sleep-until"))
async def sleep_until(ctx: outlast.Context) -> str:
    await ctx.step.sleep_until("until", datetime.fromisoformat(ctx.event.data["until"]))
    return "woke"


@client.function(id="wait-match", trigger=on("wait-match"))
async def wait_match(ctx: outlast.Context) -> dict[str, Any]:
    reply = await ctx.step.wait_for_event(
        "reply", event=f"{P}.reply", match="data.key", timeout="30s"
    )
    return {"reply": None if reply is None else reply.data["text"]}


@client.function(id="wait-if", trigger=on("wait-if"))
async def wait_if(ctx: outlast.Context) -> dict[str, Any]:
    reply = await ctx.step.wait_for_event(
        "big-order",
        event=f"{P}.order",
        if_exp="async.data.amount > 100 && async.data.key == event.data.key",
        timeout="30s",
    )
    return {"amount": None if reply is None else reply.data["amount"]}


@client.function(id="wait-timeout", trigger=on("wait-timeout"))
async def wait_timeout(ctx: outlast.Context) -> dict[str, Any]:
    reply = await ctx.step.wait_for_event("never", event=f"{P}.never", timeout="1s")
    return {"reply": reply}


@client.function(id="child", trigger=on("child"))
async def child(ctx: outlast.Context) -> dict[str, Any]:
    if ctx.event.data.get("fail"):
        raise outlast.NonRetriableError("child refused")
    return {"doubled": await ctx.step.run("double", lambda: ctx.event.data["n"] * 2)}


@client.function(id="invoke", trigger=on("invoke"))
async def invoke(ctx: outlast.Context) -> dict[str, Any]:
    ok = await ctx.step.invoke("call-child", function=child, data={"n": 21})
    try:
        await ctx.step.invoke("call-failing-child", function=child, data={"n": 1, "fail": True})
        failed = None
    except outlast.StepError as err:
        failed = err.message
    return {"child": ok, "failed": failed}


@client.function(id="send-event", trigger=on("send-event"))
async def send_event(ctx: outlast.Context) -> dict[str, Any]:
    ids = await ctx.step.send_event(
        "emit", [outlast.Event(name=f"{P}.sent", data={"key": ctx.event.data["key"]})]
    )
    return {"ids": ids}


@client.function(id="sent-receiver", trigger=on("sent"))
async def sent_receiver(ctx: outlast.Context) -> dict[str, Any]:
    return {"received": ctx.event.data["key"]}


@client.function(id="parallel", trigger=on("parallel"))
async def parallel(ctx: outlast.Context) -> dict[str, Any]:
    parts = await ctx.step.parallel(
        [(lambda i=i: ctx.step.run(f"part-{i}", lambda: i * i)) for i in range(1, 4)]
    )
    return {"parts": parts, "sum": await ctx.step.run("sum", lambda: sum(parts))}


@client.function(id="race", trigger=on("race"))
async def race(ctx: outlast.Context) -> dict[str, Any]:
    parts = await ctx.step.parallel(
        [(lambda i=i: ctx.step.run(f"part-{i}", lambda: i * i)) for i in range(1, 4)],
        mode="race",
    )
    return {"parts": sorted(parts)}


@client.function(id="retry", trigger=on("retry"), retries=2)
async def retry(ctx: outlast.Context) -> str:
    def flaky() -> str:
        if ctx.attempt == 0:
            raise RuntimeError("transient failure")
        return f"ok on attempt {ctx.attempt}"

    result: str = await ctx.step.run("flaky", flaky)
    return result


@client.function(id="retry-after", trigger=on("retry-after"), retries=2)
async def retry_after(ctx: outlast.Context) -> str:
    def limited() -> str:
        if ctx.attempt == 0:
            raise outlast.RetryAfterError("rate limited", timedelta(seconds=2))
        return f"ok on attempt {ctx.attempt}"

    result: str = await ctx.step.run("limited", limited)
    return result


@client.function(id="step-error", trigger=on("step-error"), retries=1)
async def step_error(ctx: outlast.Context) -> str:
    def broken() -> None:
        raise ValueError("still broken")

    try:
        await ctx.step.run("always-fails", broken)
    except outlast.StepError as err:
        return f"caught: {err.message}"
    return "unreachable"


async def _on_failure(ctx: outlast.Context) -> dict[str, Any]:
    return {"failed_run": ctx.event.data["run_id"], "message": ctx.event.data["error"]["message"]}


@client.function(id="non-retriable", trigger=on("non-retriable"), on_failure=_on_failure)
async def non_retriable(ctx: outlast.Context) -> None:
    def charge() -> None:
        raise outlast.NonRetriableError("the card was declined")

    await ctx.step.run("charge", charge)


@client.function(
    id="cancel", trigger=on("cancel"), cancel=[outlast.Cancel(event=f"{P}.stop", match="data.key")]
)
async def cancel(ctx: outlast.Context) -> str:
    await ctx.step.sleep("long-nap", timedelta(seconds=60))
    return "not cancelled"


@client.function(
    id="batch",
    trigger=on("batch"),
    batch_events=outlast.Batch(max_size=3, timeout="2s", key="event.data.group"),
)
async def batch(ctx: outlast.Context) -> dict[str, Any]:
    return {"ns": [e.data["n"] for e in ctx.events]}


@client.function(
    id="rate-limit",
    trigger=on("rate-limit"),
    rate_limit=outlast.RateLimit(limit=1, period="1m", key="event.data.key"),
)
async def rate_limit(ctx: outlast.Context) -> dict[str, Any]:
    return {"n": ctx.event.data["n"]}


@client.function(
    id="debounce",
    trigger=on("debounce"),
    debounce=outlast.Debounce(period="5s", key="event.data.key"),
)
async def debounce(ctx: outlast.Context) -> dict[str, Any]:
    return {"n": ctx.event.data["n"]}


@client.function(
    id="concurrency",
    trigger=on("concurrency"),
    concurrency=[outlast.Concurrency(limit=1, key="event.data.key")],
)
async def concurrency(ctx: outlast.Context) -> dict[str, float]:
    async def hold() -> dict[str, float]:
        start = time.time()
        await asyncio.sleep(0.4)
        return {"start": start, "end": time.time()}

    result: dict[str, float] = await ctx.step.run("hold", hold)
    return result


@client.function(id="large-state", trigger=on("large-state"))
async def large_state(ctx: outlast.Context) -> dict[str, Any]:
    sizes = []
    for name in ("a", "b", "c"):
        sizes.append(len(await ctx.step.run(name, lambda name=name: name * 1_600_000)))
    await ctx.step.sleep("pause", timedelta(seconds=1))
    return {"sizes": sizes, "total": await ctx.step.run("total", lambda: sum(sizes))}


@client.function(id="cron", trigger=outlast.TriggerCron(cron="* * * * *"))
async def cron(ctx: outlast.Context) -> dict[str, Any]:
    return {"event": ctx.event.name}


@client.function(
    id="big-batch", trigger=on("big-batch"), batch_events=outlast.Batch(max_size=8, timeout="10s")
)
async def big_batch(ctx: outlast.Context) -> dict[str, Any]:
    return {"sizes": [len(e.data["blob"]) for e in ctx.events]}


@client.function(id="invoke-only", trigger=[])
async def invoke_only(ctx: outlast.Context) -> dict[str, Any]:
    """No trigger: only ever invoked."""
    return {"got": ctx.event.data["n"]}


@client.function(id="invoke-only-caller", trigger=on("invoke-only"))
async def invoke_only_caller(ctx: outlast.Context) -> Any:
    return await ctx.step.invoke("call", function=invoke_only, data={"n": 7})


@client.function(id="wildcard", trigger=on("wild.*"))
async def wildcard(ctx: outlast.Context) -> dict[str, Any]:
    return {"event": ctx.event.name}


FUNCTIONS = [
    steps,
    sleep,
    sleep_until,
    wait_match,
    wait_if,
    wait_timeout,
    child,
    invoke,
    send_event,
    sent_receiver,
    parallel,
    race,
    retry,
    retry_after,
    step_error,
    non_retriable,
    cancel,
    batch,
    large_state,
    cron,
    rate_limit,
    debounce,
    concurrency,
    big_batch,
    invoke_only,
    invoke_only_caller,
    wildcard,
]


async def send(request: Request) -> JSONResponse:
    """Send events with the SDK's own client (single or a batch), as application code does."""
    events = [
        outlast.Event(name=e["name"], data=e.get("data", {}))
        for e in (await request.json())["events"]
    ]
    ids = await client.send(events if len(events) > 1 else events[0])
    return JSONResponse({"ids": ids})


app = Starlette(
    routes=[
        Route(
            "/api/inngest", outlast.asgi.serve(client, FUNCTIONS), methods=["GET", "POST", "PUT"]
        ),
        Route("/send", send, methods=["POST"]),
    ]
)
