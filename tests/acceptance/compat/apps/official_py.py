"""The compatibility scenarios written with the official PyPI ``inngest`` SDK, unchanged
Inngest code served by FastAPI. Configured only through ``INNGEST_*`` environment
variables, as a team moving an existing app onto Outlast would do."""

from __future__ import annotations

import asyncio
import datetime
import os
import time
from typing import Any

import fastapi
import inngest
import inngest.fast_api
from inngest.experimental import ai

P = "compat/py"
client = inngest.Inngest(app_id="compat-py")


@client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event=f"{P}.steps"))
async def steps(ctx: inngest.Context) -> dict[str, Any]:
    async def double() -> int:
        return int(ctx.event.data["n"]) * 2

    doubled = await ctx.step.run("double", double)

    async def add_one() -> int:
        return doubled + 1

    return {"result": await ctx.step.run("add-one", add_one)}


@client.create_function(fn_id="sleep", trigger=inngest.TriggerEvent(event=f"{P}.sleep"))
async def sleep(ctx: inngest.Context) -> str:
    await ctx.step.sleep("nap", datetime.timedelta(seconds=1))
    return "slept"


@client.create_function(fn_id="sleep-until", trigger=inngest.TriggerEvent(event=f"{P}.sleep-until"))
async def sleep_until(ctx: inngest.Context) -> str:
    until = datetime.datetime.fromisoformat(str(ctx.event.data["until"]))
    await ctx.step.sleep_until("until", until)
    return "woke"


@client.create_function(fn_id="wait-match", trigger=inngest.TriggerEvent(event=f"{P}.wait-match"))
async def wait_match(ctx: inngest.Context) -> Any:
    # The Python SDK has no `match`: the same condition, spelled as an expression.
    reply = await ctx.step.wait_for_event(
        "reply",
        event=f"{P}.reply",
        if_exp="event.data.key == async.data.key",
        timeout=datetime.timedelta(seconds=30),
    )
    return {"reply": None if reply is None else reply.data["text"]}


@client.create_function(fn_id="wait-if", trigger=inngest.TriggerEvent(event=f"{P}.wait-if"))
async def wait_if(ctx: inngest.Context) -> Any:
    reply = await ctx.step.wait_for_event(
        "big-order",
        event=f"{P}.order",
        if_exp="async.data.amount > 100 && async.data.key == event.data.key",
        timeout=datetime.timedelta(seconds=30),
    )
    return {"amount": None if reply is None else reply.data["amount"]}


@client.create_function(
    fn_id="wait-timeout", trigger=inngest.TriggerEvent(event=f"{P}.wait-timeout")
)
async def wait_timeout(ctx: inngest.Context) -> Any:
    reply = await ctx.step.wait_for_event(
        "never", event=f"{P}.never", timeout=datetime.timedelta(seconds=1)
    )
    return {"reply": reply}


@client.create_function(fn_id="child", trigger=inngest.TriggerEvent(event=f"{P}.child"))
async def child(ctx: inngest.Context) -> dict[str, Any]:
    if ctx.event.data.get("fail"):
        raise inngest.NonRetriableError("child refused")

    async def double() -> int:
        return int(ctx.event.data["n"]) * 2

    return {"doubled": await ctx.step.run("double", double)}


@client.create_function(fn_id="invoke", trigger=inngest.TriggerEvent(event=f"{P}.invoke"))
async def invoke(ctx: inngest.Context) -> dict[str, Any]:
    ok = await ctx.step.invoke("call-child", function=child, data={"n": 21})
    try:
        await ctx.step.invoke("call-failing-child", function=child, data={"n": 1, "fail": True})
        failed = None
    except inngest.StepError as err:
        failed = err.message
    return {"child": ok, "failed": failed}


@client.create_function(fn_id="send-event", trigger=inngest.TriggerEvent(event=f"{P}.send-event"))
async def send_event(ctx: inngest.Context) -> dict[str, Any]:
    ids = await ctx.step.send_event(
        "emit", [inngest.Event(name=f"{P}.sent", data={"key": ctx.event.data["key"]})]
    )
    return {"ids": ids}


@client.create_function(fn_id="sent-receiver", trigger=inngest.TriggerEvent(event=f"{P}.sent"))
async def sent_receiver(ctx: inngest.Context) -> dict[str, Any]:
    return {"received": ctx.event.data["key"]}


def _square(i: int) -> Any:
    async def body() -> int:
        return i * i

    return body


@client.create_function(fn_id="parallel", trigger=inngest.TriggerEvent(event=f"{P}.parallel"))
async def parallel(ctx: inngest.Context) -> dict[str, Any]:
    parts = await ctx.group.parallel(
        tuple((lambda i=i: ctx.step.run(f"part-{i}", _square(i))) for i in range(1, 4))
    )

    async def total() -> int:
        return sum(parts)

    return {"parts": list(parts), "sum": await ctx.step.run("sum", total)}


@client.create_function(fn_id="race", trigger=inngest.TriggerEvent(event=f"{P}.race"))
async def race(ctx: inngest.Context) -> dict[str, Any]:
    parts = await ctx.group.parallel(
        tuple((lambda i=i: ctx.step.run(f"part-{i}", _square(i))) for i in range(1, 4)),
        parallel_mode=inngest.ParallelMode.RACE,
    )
    return {"parts": sorted(parts)}


@client.create_function(fn_id="retry", trigger=inngest.TriggerEvent(event=f"{P}.retry"), retries=2)
async def retry(ctx: inngest.Context) -> str:
    async def flaky() -> str:
        if ctx.attempt == 0:
            raise RuntimeError("transient failure")
        return f"ok on attempt {ctx.attempt}"

    return await ctx.step.run("flaky", flaky)


@client.create_function(
    fn_id="retry-after", trigger=inngest.TriggerEvent(event=f"{P}.retry-after"), retries=2
)
async def retry_after(ctx: inngest.Context) -> str:
    async def limited() -> str:
        if ctx.attempt == 0:
            raise inngest.RetryAfterError("rate limited", datetime.timedelta(seconds=2))
        return f"ok on attempt {ctx.attempt}"

    return await ctx.step.run("limited", limited)


@client.create_function(
    fn_id="step-error", trigger=inngest.TriggerEvent(event=f"{P}.step-error"), retries=1
)
async def step_error(ctx: inngest.Context) -> str:
    async def broken() -> None:
        raise ValueError("still broken")

    try:
        await ctx.step.run("always-fails", broken)
    except inngest.StepError as err:
        return f"caught: {err.message}"
    return "unreachable"


async def _on_failure(ctx: inngest.Context) -> dict[str, Any]:
    return {"failed_run": ctx.event.data["run_id"], "message": ctx.event.data["error"]["message"]}


@client.create_function(
    fn_id="non-retriable",
    trigger=inngest.TriggerEvent(event=f"{P}.non-retriable"),
    on_failure=_on_failure,
)
async def non_retriable(ctx: inngest.Context) -> None:
    async def charge() -> None:
        raise inngest.NonRetriableError("the card was declined")

    await ctx.step.run("charge", charge)


@client.create_function(
    fn_id="cancel",
    trigger=inngest.TriggerEvent(event=f"{P}.cancel"),
    cancel=[inngest.Cancel(event=f"{P}.stop", if_exp="event.data.key == async.data.key")],
)
async def cancel(ctx: inngest.Context) -> str:
    await ctx.step.sleep("long-nap", datetime.timedelta(seconds=60))
    return "not cancelled"


@client.create_function(
    fn_id="batch",
    trigger=inngest.TriggerEvent(event=f"{P}.batch"),
    batch_events=inngest.Batch(
        max_size=3, timeout=datetime.timedelta(seconds=2), key="event.data.group"
    ),
)
async def batch(ctx: inngest.Context) -> dict[str, Any]:
    return {"ns": [e.data["n"] for e in ctx.events]}


@client.create_function(
    fn_id="rate-limit",
    trigger=inngest.TriggerEvent(event=f"{P}.rate-limit"),
    rate_limit=inngest.RateLimit(
        limit=1, period=datetime.timedelta(minutes=1), key="event.data.key"
    ),
)
async def rate_limit(ctx: inngest.Context) -> dict[str, Any]:
    return {"n": ctx.event.data["n"]}


@client.create_function(
    fn_id="debounce",
    trigger=inngest.TriggerEvent(event=f"{P}.debounce"),
    debounce=inngest.Debounce(period=datetime.timedelta(seconds=5), key="event.data.key"),
)
async def debounce(ctx: inngest.Context) -> dict[str, Any]:
    return {"n": ctx.event.data["n"]}


@client.create_function(
    fn_id="concurrency",
    trigger=inngest.TriggerEvent(event=f"{P}.concurrency"),
    concurrency=[inngest.Concurrency(limit=1, key="event.data.key")],
)
async def concurrency(ctx: inngest.Context) -> dict[str, float]:
    async def hold() -> dict[str, float]:
        start = time.time()
        await asyncio.sleep(0.4)
        return {"start": start, "end": time.time()}

    return await ctx.step.run("hold", hold)


@client.create_function(fn_id="large-state", trigger=inngest.TriggerEvent(event=f"{P}.large-state"))
async def large_state(ctx: inngest.Context) -> dict[str, Any]:
    """4.8 MB of step outputs: after the sleep the server sends use_api and the SDK fetches
    the run's state from the API."""
    sizes = []
    for name in ("a", "b", "c"):

        async def big(name: str = name) -> str:
            return name * 1_600_000

        sizes.append(len(await ctx.step.run(name, big)))
    await ctx.step.sleep("pause", datetime.timedelta(seconds=1))

    async def total() -> int:
        return sum(sizes)

    return {"sizes": sizes, "total": await ctx.step.run("total", total)}


@client.create_function(fn_id="cron", trigger=inngest.TriggerCron(cron="* * * * *"))
async def cron(ctx: inngest.Context) -> dict[str, Any]:
    return {"event": ctx.event.name}


@client.create_function(
    fn_id="big-batch",
    trigger=inngest.TriggerEvent(event=f"{P}.big-batch"),
    batch_events=inngest.Batch(max_size=8, timeout=datetime.timedelta(seconds=10)),
)
async def big_batch(ctx: inngest.Context) -> dict[str, Any]:
    return {"sizes": [len(e.data["blob"]) for e in ctx.events]}


@client.create_function(fn_id="slow-child", trigger=inngest.TriggerEvent(event=f"{P}.slow-child"))
async def slow_child(ctx: inngest.Context) -> str:
    await ctx.step.sleep("nap", datetime.timedelta(seconds=float(ctx.event.data["seconds"])))
    return "done"


#: Calls the app received for each run of ``parallel-calls``.
calls: dict[str, int] = {}


@client.create_function(
    fn_id="parallel-calls", trigger=inngest.TriggerEvent(event=f"{P}.parallel-calls"), retries=0
)
async def parallel_calls(ctx: inngest.Context) -> dict[str, Any]:
    """A parallel group of an invoke and two steps, then a step: Inngest calls the app
    once per planned step and once when the whole group is in (5 calls)."""
    calls[ctx.run_id] = calls.get(ctx.run_id, 0) + 1
    parts = await ctx.group.parallel(
        (
            lambda: ctx.step.invoke("invoke", function=slow_child, data={"seconds": 1}),
            lambda: ctx.step.run("a", _square(2)),
            lambda: ctx.step.run("b", _square(3)),
        )
    )
    await ctx.step.run("after", _square(4))
    return {"parts": list(parts), "calls": calls.pop(ctx.run_id)}


@client.create_function(
    fn_id="invoke-timeout", trigger=inngest.TriggerEvent(event=f"{P}.invoke-timeout"), retries=0
)
async def invoke_timeout(ctx: inngest.Context) -> None:
    await ctx.step.invoke(
        "slow", function=slow_child, data={"seconds": 5}, timeout=datetime.timedelta(seconds=1)
    )


@client.create_function(fn_id="invoke-only", trigger=[])
async def invoke_only(ctx: inngest.Context) -> dict[str, Any]:
    """No trigger: only ever invoked."""
    return {"got": ctx.event.data["n"]}


@client.create_function(
    fn_id="invoke-only-caller", trigger=inngest.TriggerEvent(event=f"{P}.invoke-only")
)
async def invoke_only_caller(ctx: inngest.Context) -> Any:
    return await ctx.step.invoke("call", function=invoke_only, data={"n": 7})


@client.create_function(fn_id="wildcard", trigger=inngest.TriggerEvent(event=f"{P}.wild.*"))
async def wildcard(ctx: inngest.Context) -> dict[str, Any]:
    return {"event": ctx.event.name}


class MyError(Exception):
    pass


async def _report_error(ctx: inngest.Context) -> Any:
    return {"error": ctx.event.data["error"]}


@client.create_function(
    fn_id="fails",
    trigger=inngest.TriggerEvent(event=f"{P}.fails"),
    retries=0,
    on_failure=_report_error,
)
async def fails(ctx: inngest.Context) -> None:
    raise MyError("intentional failure")


@client.create_function(
    fn_id="ai-infer", trigger=inngest.TriggerEvent(event=f"{P}.ai-infer"), retries=0
)
async def ai_infer(ctx: inngest.Context) -> Any:
    """step.ai.infer: the server sends the request to the (fake) provider."""
    adapter = ai.anthropic.Adapter(
        auth_key="sk-fake", base_url=f"{os.environ['FAKE_LLM_URL']}/v1", model="claude-fake"
    )
    body = {"max_tokens": 50, "messages": [{"role": "user", "content": ctx.event.data["q"]}]}
    return await ctx.step.ai.infer("ask", adapter=adapter, body=body)


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
    slow_child,
    parallel_calls,
    invoke_timeout,
    invoke_only,
    invoke_only_caller,
    wildcard,
    fails,
    ai_infer,
]

app = fastapi.FastAPI()
inngest.fast_api.serve(app, client, FUNCTIONS)


@app.post("/send")
async def send(request: fastapi.Request) -> dict[str, Any]:
    """Send events with the SDK's own client (single or a batch), as application code does."""
    body = await request.json()
    events = [inngest.Event(name=e["name"], data=e.get("data", {})) for e in body["events"]]
    ids = await client.send(events if len(events) > 1 else events[0])
    return {"ids": ids}
