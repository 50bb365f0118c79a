"""Plain ``def`` handlers: run in a worker thread with the synchronous step API."""

from __future__ import annotations

import threading
from typing import Any

import outlast
from outlast.protocol import jsonutil
from outlast.sdk.serve.core import HttpRequest, ServeHandler

from .conftest import call, h, request_body


async def test_sync_handler_runs_steps_in_a_worker_thread(client: outlast.Client) -> None:
    threads: list[str] = []
    calls: list[str] = []

    @client.function(id="fn", trigger="test/event")
    def fn(ctx: outlast.SyncContext) -> Any:
        threads.append(threading.current_thread().name)

        def work() -> int:
            calls.append("a")
            return 41

        a = ctx.step.run("a", work)
        ctx.step.sleep("nap", 60_000)
        return a + 1

    res = await call(client, [fn], fn)
    assert threads[0] != threading.current_thread().name
    assert calls == ["a"]
    assert res.op["op"] == "StepRun" and res.op["data"] == 41

    res = await call(client, [fn], fn, steps={h("a"): {"data": 41}})
    assert res.op["op"] == "Sleep" and res.op["name"] == "1m"
    assert calls == ["a"]

    done = await call(client, [fn], fn, steps={h("a"): {"data": 41}, h("nap"): None})
    assert done.status == 200 and done.body == 42


async def test_sync_parallel_and_errors(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event", retries=1)
    def fn(ctx: outlast.SyncContext) -> Any:
        results = ctx.step.parallel(
            (lambda: ctx.step.run("a", lambda: 1), lambda: ctx.step.run("b", lambda: 2))
        )
        try:
            ctx.step.run("fails", lambda: 1 / 0)
        except outlast.StepError as err:
            return [*results, err.name]
        return results

    res = await call(client, [fn], fn)
    assert [op["op"] for op in res.ops] == ["StepPlanned", "StepPlanned"]

    memos: dict[str, Any] = {h("a"): {"data": 1}, h("b"): {"data": 2}}
    res = await call(client, [fn], fn, steps=memos, attempt=1, max_attempts=2)
    assert res.op["op"] == "StepFailed"
    assert res.op["error"]["name"] == "ZeroDivisionError"

    memos[h("fails")] = {"error": res.op["error"]}
    done = await call(client, [fn], fn, steps=memos)
    assert done.body == [1, 2, "ZeroDivisionError"]


async def test_sync_wait_invoke_and_send(client: outlast.Client, monkeypatch: Any) -> None:
    monkeypatch.setattr(client, "send_sync", lambda events: [f"id-{len(events)}"])

    @client.function(id="fn", trigger="test/event")
    def fn(ctx: outlast.SyncContext) -> Any:
        ev = ctx.step.wait_for_event("wait", event="test/go", timeout="5m", if_exp="async.data.ok")
        res = ctx.step.invoke("call", function="child", data={"v": 1})
        ids = ctx.step.send_event("emit", [{"name": "a"}, {"name": "b"}])
        return [ev.name if ev else None, res, ids]

    res = await call(client, [fn], fn)
    assert res.op["op"] == "WaitForEvent"
    assert res.op["opts"] == {"timeout": "5m", "if": "async.data.ok"}
    memos: dict[str, Any] = {h("wait"): {"name": "test/go", "data": {}}}
    res = await call(client, [fn], fn, steps=memos)
    assert res.op["op"] == "InvokeFunction"
    assert res.op["opts"]["function_id"] == "app-child"
    memos[h("call")] = {"data": "child result"}
    res = await call(client, [fn], fn, steps=memos)
    assert res.op["op"] == "StepRun" and res.op["data"] == ["id-2"]
    memos[h("emit")] = {"data": ["id-2"]}
    done = await call(client, [fn], fn, steps=memos)
    assert done.body == ["test/go", "child result", ["id-2"]]


async def test_sync_step_with_async_fn_is_an_error(client: outlast.Client) -> None:
    async def coro() -> int:
        return 1

    @client.function(id="fn", trigger="test/event")
    def fn(ctx: outlast.SyncContext) -> Any:
        return ctx.step.run("a", coro)

    res = await call(client, [fn], fn)
    assert res.op["op"] == "StepError"
    assert "synchronous" in res.op["error"]["message"]


async def test_sync_non_retriable(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    def fn(ctx: outlast.SyncContext) -> Any:
        raise outlast.NonRetriableError("stop")

    res = await call(client, [fn], fn)
    assert res.status == 500
    assert res.headers["x-inngest-no-retry"] == "true"


async def test_on_failure_handler_gets_the_failure_event(client: outlast.Client) -> None:
    seen: list[Any] = []

    def on_failure(ctx: outlast.SyncContext) -> Any:
        seen.append(ctx.event)
        return ctx.step.run("notify", lambda: ctx.event.data["error"]["message"])

    @client.function(id="fn", trigger="test/event", on_failure=on_failure)
    async def fn(ctx: outlast.Context) -> Any:
        raise RuntimeError("boom")

    failure_event = {
        "name": "inngest/function.failed",
        "data": {
            "function_id": "app-fn",
            "run_id": "01R",
            "error": {"name": "RuntimeError", "message": "boom", "stack": ""},
            "event": {"name": "test/event", "data": {}},
        },
        "id": "f1",
        "ts": 1,
    }
    handler = ServeHandler(client, [fn], framework="test")
    response = await handler.handle(
        HttpRequest(
            "POST",
            "http://app.test/api/outlast?fnId=app-fn-failure&stepId=step",
            {},
            jsonutil.dumps(request_body(event=failure_event)),
        )
    )
    assert response.status == 206
    assert jsonutil.loads(response.body)[0]["data"] == "boom"
    assert seen[0].name == "inngest/function.failed"
    assert seen[0].data["event"]["name"] == "test/event"
