"""Execution requests: memoised replay, immediate and targeted execution, answers."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pydantic

import outlast
from outlast.protocol.ops import Header

from .conftest import call, h


def counting_fn(calls: list[str], name: str, value: Any) -> Any:
    def fn() -> Any:
        calls.append(name)
        return value

    return fn


async def test_first_step_runs_immediately(client: outlast.Client) -> None:
    calls: list[str] = []

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        a = await ctx.step.run("a", counting_fn(calls, "a", {"n": 1}))
        return a

    res = await call(client, [fn], fn)
    assert calls == ["a"]
    assert res.op == {
        "id": h("a"),
        "op": "StepRun",
        "name": "a",
        "displayName": "a",
        "userland": {"id": "a", "index": None},
        "data": {"n": 1},
    }


async def test_replay_returns_memos_without_rerunning(client: outlast.Client) -> None:
    calls: list[str] = []

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        a = await ctx.step.run("a", counting_fn(calls, "a", 1))
        b = await ctx.step.run("b", counting_fn(calls, "b", 2))
        return {"a": a, "b": b, "event": ctx.event.data}

    res = await call(client, [fn], fn, steps={h("a"): {"data": 10}})
    assert calls == ["b"]
    assert res.op["id"] == h("b") and res.op["data"] == 2

    res = await call(client, [fn], fn, steps={h("a"): {"data": 10}, h("b"): {"data": 20}})
    assert calls == ["b"]
    assert res.status == 200
    assert res.body == {"a": 10, "b": 20, "event": {"x": 1}}
    assert res.headers[Header.SDK].startswith("outlast-py:v")
    assert res.headers[Header.REQ_VERSION] == "2"
    assert res.headers["content-type"] == "application/json"


async def test_repeated_step_ids_get_suffixes(client: outlast.Client) -> None:
    seen: list[int] = []

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        for i in range(3):
            seen.append(await ctx.step.run("loop", lambda i=i: i))
        return seen

    res = await call(client, [fn], fn, steps={h("loop"): {"data": 0}})
    assert res.op["id"] == h("loop:1")
    assert res.op["userland"] == {"id": "loop", "index": 1}
    assert res.op["name"] == "loop"

    seen.clear()
    done = await call(
        client,
        [fn],
        fn,
        steps={h("loop"): {"data": 0}, h("loop:1"): {"data": 1}, h("loop:2"): {"data": 2}},
    )
    assert done.body == [0, 1, 2]


async def test_step_output_serialisation(client: outlast.Client) -> None:
    class Model(pydantic.BaseModel):
        n: int

    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        await ctx.step.run("model", lambda: Model(n=3))
        await ctx.step.run("dc", lambda: Point(1, 2))
        await ctx.step.run("bad", lambda: {1, 2})
        return None

    assert (await call(client, [fn], fn)).op["data"] == {"n": 3}
    res = await call(client, [fn], fn, steps={h("model"): {"data": {"n": 3}}})
    assert res.op["data"] == {"x": 1, "y": 2}
    res = await call(
        client,
        [fn],
        fn,
        steps={h("model"): {"data": {"n": 3}}, h("dc"): {"data": {"x": 1, "y": 2}}},
    )
    assert res.status == 500
    assert res.headers[Header.NO_RETRY] == "true"
    assert res.body["code"] == "output_unserializable"
    assert "bad" in res.body["message"]


async def test_disable_immediate_execution_plans_the_step(client: outlast.Client) -> None:
    calls: list[str] = []

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.run("a", counting_fn(calls, "a", 1))

    res = await call(client, [fn], fn, disable_immediate=True)
    assert calls == []
    assert res.op["op"] == "StepPlanned" and res.op["id"] == h("a")
    assert "data" not in res.op


async def test_targeted_step_runs_only_that_step(client: outlast.Client) -> None:
    calls: list[str] = []

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.parallel(
            (
                lambda: ctx.step.run("a", counting_fn(calls, "a", "A")),
                lambda: ctx.step.run("b", counting_fn(calls, "b", "B")),
            )
        )

    res = await call(client, [fn], fn, step_id=h("b"), disable_immediate=True)
    assert calls == ["b"]
    assert res.op["op"] == "StepRun" and res.op["id"] == h("b") and res.op["data"] == "B"


async def test_targeted_step_not_found_is_an_error(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.run("a", lambda: 1)

    res = await call(client, [fn], fn, step_id=h("zzz"))
    assert res.status == 500
    assert res.body["code"] == "step_unexpected"
    assert Header.NO_RETRY not in res.headers


async def test_parallel_plans_every_step(client: outlast.Client) -> None:
    calls: list[str] = []

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.parallel(
            (
                lambda: ctx.step.run("a", counting_fn(calls, "a", 1)),
                lambda: ctx.step.run("b", counting_fn(calls, "b", 2)),
                lambda: ctx.step.sleep("nap", "1m"),
            )
        )

    res = await call(client, [fn], fn)
    assert calls == []
    assert [(op["op"], op["id"]) for op in res.ops] == [
        ("StepPlanned", h("a")),
        ("StepPlanned", h("b")),
        ("Sleep", h("nap")),
    ]
    assert all("opts" not in op or "parallelMode" not in op["opts"] for op in res.ops)

    memos = {h("a"): {"data": 1}, h("b"): {"data": 2}, h("nap"): None}
    done = await call(client, [fn], fn, steps=memos)
    assert done.status == 200 and done.body == [1, 2, None]


async def test_parallel_race_mode_marks_ops(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.parallel(
            (lambda: ctx.step.run("a", lambda: 1), lambda: ctx.step.run("b", lambda: 2)),
            mode="race",
        )

    res = await call(client, [fn], fn, steps={h("a"): {"data": 1}})
    # One branch is done; the other is still planned, in race mode.
    assert res.op["op"] == "StepPlanned" and res.op["id"] == h("b")
    assert res.op["opts"] == {"parallelMode": "race"}


async def test_asyncio_gather_reports_all_steps(client: outlast.Client) -> None:
    calls: list[str] = []

    async def slow(name: str) -> str:
        calls.append(name)
        return name

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        before = await ctx.step.run("first", lambda: "first")
        both = await asyncio.gather(ctx.step.run("a", slow, "a"), ctx.step.run("b", slow, "b"))
        return [before, *both]

    res = await call(client, [fn], fn, steps={h("first"): {"data": "first"}})
    assert calls == []
    assert sorted(op["id"] for op in res.ops) == sorted([h("a"), h("b")])
    assert {op["op"] for op in res.ops} == {"StepPlanned"}

    # The server then targets each one.
    res = await call(
        client,
        [fn],
        fn,
        step_id=h("b"),
        disable_immediate=True,
        steps={h("first"): {"data": "first"}},
    )
    assert calls == ["b"]
    assert res.op["op"] == "StepRun" and res.op["id"] == h("b") and res.op["data"] == "b"

    memos = {h("first"): {"data": "first"}, h("a"): {"data": "a"}, h("b"): {"data": "b"}}
    done = await call(client, [fn], fn, steps=memos)
    assert done.body == ["first", "a", "b"]


async def test_sleep_ops(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        await ctx.step.sleep("nap", "1h30m")
        await ctx.step.sleep_until("alarm", "2030-01-02T03:04:05+01:00")
        return "awake"

    res = await call(client, [fn], fn)
    assert res.op == {
        "id": h("nap"),
        "op": "Sleep",
        "name": "1h30m",
        "displayName": "nap",
        "userland": {"id": "nap", "index": None},
    }
    res = await call(client, [fn], fn, steps={h("nap"): None})
    assert res.op["op"] == "Sleep" and res.op["name"] == "2030-01-02T02:04:05.000Z"
    done = await call(client, [fn], fn, steps={h("nap"): None, h("alarm"): {"data": None}})
    assert done.body == "awake"


async def test_wait_for_event_ops_and_results(client: outlast.Client) -> None:
    got: list[Any] = []

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        ev = await ctx.step.wait_for_event(
            "wait", event="test/approved", timeout="1d", match="data.user_id"
        )
        got.append(ev)
        return ev.data if ev else None

    res = await call(client, [fn], fn)
    assert res.op["op"] == "WaitForEvent"
    assert res.op["name"] == "test/approved"
    assert res.op["opts"] == {"timeout": "1d", "if": "event.data.user_id == async.data.user_id"}

    event = {"name": "test/approved", "data": {"user_id": 7}, "id": "e2", "ts": 1}
    done = await call(client, [fn], fn, steps={h("wait"): event})
    assert done.body == {"user_id": 7}
    assert isinstance(got[-1], outlast.Event) and got[-1].id == "e2"

    timed_out = await call(client, [fn], fn, steps={h("wait"): None})
    assert timed_out.status == 200 and timed_out.body is None


async def test_invoke_op_and_child_failure(client: outlast.Client) -> None:
    @client.function(id="child", trigger="test/child")
    async def child(ctx: outlast.Context) -> Any:
        return ctx.event.data

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        try:
            return await ctx.step.invoke("call", function=child, data={"k": 1}, timeout="10m")
        except outlast.StepError as err:
            return f"child failed: {err.name}: {err.message}"

    res = await call(client, [fn, child], fn)
    assert res.op["op"] == "InvokeFunction"
    assert res.op["opts"] == {
        "function_id": "app-child",
        "payload": {"data": {"k": 1}},
        "timeout": "10m",
    }
    ok = await call(client, [fn, child], fn, steps={h("call"): {"data": {"k": 1}}})
    assert ok.body == {"k": 1}
    failed = await call(
        client,
        [fn, child],
        fn,
        steps={h("call"): {"error": {"name": "InngestInvokeTimeoutError", "message": "timed out"}}},
    )
    assert failed.body == "child failed: InngestInvokeTimeoutError: timed out"


async def test_invoke_by_id_string(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.invoke("call", function="other", app_id="billing")

    res = await call(client, [fn], fn)
    assert res.op["opts"] == {"function_id": "billing-other", "payload": {"data": {}}}


async def test_uncaught_memoised_error_fails_without_retry(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.run("a", lambda: 1)

    err = {"name": "ValueError", "message": "boom", "stack": "trace"}
    res = await call(client, [fn], fn, steps={h("a"): {"error": err}})
    assert res.status == 500
    assert res.headers[Header.NO_RETRY] == "true"
    assert res.body == {
        "code": "step_errored",
        "message": "boom",
        "name": "ValueError",
        "stack": "trace",
    }


async def test_memoised_error_is_catchable(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        try:
            await ctx.step.run("a", lambda: 1)
        except outlast.StepError as err:
            failed = err.name
            return await ctx.step.run("recover", lambda: f"recovered from {failed}")
        return "no error"

    err = {"name": "KeyError", "message": "k", "stack": ""}
    res = await call(client, [fn], fn, steps={h("a"): {"error": err}})
    assert res.op["id"] == h("recover") and res.op["data"] == "recovered from KeyError"


async def test_step_error_then_step_failed_on_last_attempt(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event", retries=2)
    async def fn(ctx: outlast.Context) -> Any:
        def broken() -> None:
            raise ValueError("nope")

        return await ctx.step.run("a", broken)

    res = await call(client, [fn], fn, attempt=0, max_attempts=3)
    assert res.op["op"] == "StepError"
    assert res.op["error"]["name"] == "ValueError"
    assert res.op["error"]["message"] == "nope"
    assert "broken" in res.op["error"]["stack"]
    assert Header.NO_RETRY not in res.headers

    res = await call(client, [fn], fn, attempt=2, max_attempts=3)
    assert res.op["op"] == "StepFailed"

    # Without max_attempts the SDK cannot know: always StepError.
    res = await call(client, [fn], fn, attempt=5)
    assert res.op["op"] == "StepError"


async def test_non_retriable_error(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        def refuse() -> None:
            raise outlast.NonRetriableError("bad input", cause=KeyError("x"))

        return await ctx.step.run("a", refuse)

    res = await call(client, [fn], fn)
    assert res.status == 500
    assert res.headers[Header.NO_RETRY] == "true"
    assert res.body["code"] == "non_retriable_error"
    assert res.body["name"] == "NonRetriableError"
    assert res.body["message"] == "bad input"
    assert "stack" in res.body


async def test_retry_after_error(client: outlast.Client) -> None:
    from datetime import UTC, datetime

    when = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        raise outlast.RetryAfterError("slow down", when)

    res = await call(client, [fn], fn)
    assert res.status == 500
    assert res.headers[Header.RETRY_AFTER] == "2031-05-06T07:08:09.000Z"
    assert Header.NO_RETRY not in res.headers
    assert res.body["code"] == "retry_after_error"


async def test_plain_exception_is_retriable(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        raise RuntimeError("flaky")

    res = await call(client, [fn], fn)
    assert res.status == 500
    assert Header.NO_RETRY not in res.headers
    assert res.body["code"] == "unknown" and res.body["name"] == "RuntimeError"


async def test_except_exception_does_not_swallow_the_interrupt(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        try:
            await ctx.step.run("a", lambda: 1)
        except Exception:
            return "swallowed"
        return "after"

    res = await call(client, [fn], fn)
    assert res.op["op"] == "StepRun"


async def test_nested_steps_are_refused(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        async def outer() -> Any:
            return await ctx.step.run("inner", lambda: 1)

        return await ctx.step.run("outer", outer)

    res = await call(client, [fn], fn)
    assert res.op["op"] == "StepError"
    assert res.op["error"]["name"] == "NestedStepError"
    assert res.headers[Header.NO_RETRY] == "true"


async def test_send_event_step(client: outlast.Client, monkeypatch: Any) -> None:
    sent: list[Any] = []

    async def fake_send(events: Any) -> list[str]:
        sent.append(events)
        return ["id1"]

    monkeypatch.setattr(client, "send", fake_send)

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.send_event("emit", outlast.Event(name="test/out", data={"a": 1}))

    res = await call(client, [fn], fn)
    assert sent == [[{"name": "test/out", "data": {"a": 1}}]]
    assert res.op["op"] == "StepRun" and res.op["data"] == ["id1"]
    done = await call(client, [fn], fn, steps={h("emit"): {"data": ["id1"]}})
    assert done.body == ["id1"] and len(sent) == 1


async def test_logger_is_silent_while_replaying(client: outlast.Client, caplog: Any) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        ctx.logger.info("start")
        await ctx.step.run("a", lambda: 1)
        ctx.logger.info("after a")
        await ctx.step.run("b", lambda: 2)
        ctx.logger.info("end")
        return None

    def lines() -> list[str]:
        out = [r.getMessage() for r in caplog.records if r.name == "outlast.app"]
        caplog.clear()
        return out

    caplog.set_level("INFO", logger="outlast.app")
    await call(client, [fn], fn)
    assert lines() == ["start"]
    await call(client, [fn], fn, steps={h("a"): {"data": 1}})
    assert lines() == ["after a"]
    await call(client, [fn], fn, steps={h("a"): {"data": 1}, h("b"): {"data": 2}})
    assert lines() == ["end"]


async def test_context_fields(client: outlast.Client) -> None:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return {
            "run_id": ctx.run_id,
            "attempt": ctx.attempt,
            "function_id": ctx.function_id,
            "events": [e.name for e in ctx.events],
        }

    res = await call(client, [fn], fn, attempt=2, run_id="01ABC")
    assert res.body == {
        "run_id": "01ABC",
        "attempt": 2,
        "function_id": "app-fn",
        "events": ["test/event"],
    }


async def test_gather_targeted_step_finishes_after_a_sibling_stops(client: outlast.Client) -> None:
    async def slow() -> str:
        await asyncio.sleep(0.01)
        return "slow done"

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await asyncio.gather(ctx.step.run("quick", lambda: 1), ctx.step.run("slow", slow))

    # Targeting "slow": "quick" is skipped at once, "slow" still gets to finish.
    res = await call(client, [fn], fn, step_id=h("slow"), disable_immediate=True)
    assert res.op["op"] == "StepRun" and res.op["data"] == "slow done"


async def test_step_error_stack_starts_in_user_code(client: outlast.Client) -> None:
    def user_code() -> None:
        raise KeyError("missing")

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await ctx.step.run("a", user_code)

    res = await call(client, [fn], fn)
    stack = res.op["error"]["stack"]
    assert "user_code" in stack and "outlast/sdk/steps.py" not in stack
