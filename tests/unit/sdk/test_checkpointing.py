"""Checkpointing: with the server's call id (``ctx.qi_id``), a call runs ``step.run`` steps
in a row, saving each through ``POST /v1/checkpoint`` before the next; anything unusual
falls back to answering the step as without checkpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import outlast
from outlast.protocol import jsonutil, signing

from .conftest import call, h

API = "http://outlast.test:8288"


class CheckpointAPI:
    """The server's checkpoint route: records each checkpoint; ``refuse_at`` answers that
    (1-based) checkpoint with ``status``, ``fail_at`` drops the connection."""

    def __init__(self, refuse_at: int = 0, status: int = 409, fail_at: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.refuse_at = refuse_at
        self.status = status
        self.fail_at = fail_at

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(jsonutil.loads(request.content))
        n = len(self.bodies)
        if n == self.fail_at:
            raise httpx.ConnectError("connection refused", request=request)
        if n == self.refuse_at:
            return httpx.Response(self.status, json={"error": "refused"})
        return httpx.Response(200, json={"saved": 1})

    def steps(self) -> list[str]:
        return [b["steps"][0]["displayName"] for b in self.bodies]


def make_client(api: CheckpointAPI, **kwargs: Any) -> outlast.Client:
    return outlast.Client(
        "app", dev=True, api_base_url=API, http_transport=httpx.MockTransport(api), **kwargs
    )


def three_steps(client: outlast.Client, calls: list[str]) -> outlast.Function:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        out = []
        for name in ("a", "b", "c"):
            out.append(await ctx.step.run(name, lambda name=name: calls.append(name) or name))
        return out

    return fn


async def test_steps_run_in_a_row_each_saved_before_the_next() -> None:
    api, calls = CheckpointAPI(), []
    client = make_client(api)
    fn = three_steps(client, calls)
    res = await call(client, [fn], fn, qi_id="7:0")
    assert res.status == 200 and res.body == ["a", "b", "c"]
    assert calls == ["a", "b", "c"] and api.steps() == ["a", "b", "c"]
    assert str(api.requests[0].url) == f"{API}/v1/checkpoint/01RUN/async"
    first = api.bodies[0]
    assert first["qi_id"] == "7:0" and first["run_id"] == "01RUN" and first["fn_id"] == "fn"
    # When the step ran, so the server can draw it on the run's timeline.
    timing = first["steps"][0].pop("timing")
    assert isinstance(timing["start"], int) and 0 <= timing["end"] - timing["start"] < 1000
    assert first["steps"] == [
        {
            "id": h("a"),
            "op": "StepRun",
            "name": "a",
            "displayName": "a",
            "userland": {"id": "a", "index": None},
            "data": "a",
        }
    ]


async def test_a_step_after_memos_checkpoints_and_a_sleep_is_answered() -> None:
    api = CheckpointAPI()
    client = make_client(api)

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        await ctx.step.run("a", lambda: 1)
        await ctx.step.run("b", lambda: 2)
        await ctx.step.sleep("nap", "1h")
        return "woke"

    res = await call(client, [fn], fn, steps={h("a"): {"data": 1}}, qi_id="7:0")
    assert api.steps() == ["b"]
    assert [op["op"] for op in res.ops] == ["Sleep"] and res.op["id"] == h("nap")


@pytest.mark.parametrize("status", [409, 404, 500])
async def test_a_refused_checkpoint_answers_the_step_instead(status: int) -> None:
    api, calls = CheckpointAPI(refuse_at=2, status=status), []
    client = make_client(api)
    fn = three_steps(client, calls)
    res = await call(client, [fn], fn, qi_id="7:0")
    # "a" was saved; "b" ran but its checkpoint was refused: it is the answer, and the
    # call stops there ("c" runs in the next call).
    assert calls == ["a", "b"]
    assert res.op["op"] == "StepRun" and res.op["id"] == h("b") and res.op["data"] == "b"


async def test_a_network_error_answers_the_step_instead() -> None:
    api, calls = CheckpointAPI(fail_at=1), []
    client = make_client(api)
    fn = three_steps(client, calls)
    res = await call(client, [fn], fn, qi_id="7:0")
    assert calls == ["a"] and res.op["id"] == h("a") and res.op["data"] == "a"


async def test_without_a_call_id_or_with_checkpointing_off_each_step_is_answered() -> None:
    for qi_id, client_kwargs in ((None, {}), ("7:0", {"checkpointing": False})):
        api, calls = CheckpointAPI(), []
        client = make_client(api, **client_kwargs)
        fn = three_steps(client, calls)
        res = await call(client, [fn], fn, qi_id=qi_id)
        assert calls == ["a"] and res.op["id"] == h("a") and api.bodies == []


def test_checkpointing_can_be_turned_off_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OUTLAST_CHECKPOINTING", "false")
    assert outlast.Client("app", dev=True).checkpointing is False
    monkeypatch.setenv("OUTLAST_CHECKPOINTING", "maybe")
    with pytest.raises(outlast.ConfigError, match="CHECKPOINTING must be true or false"):
        outlast.Client("app", dev=True)


async def test_parallel_steps_are_planned_not_checkpointed() -> None:
    api = CheckpointAPI()
    client = make_client(api)

    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return await asyncio.gather(ctx.step.run("x", lambda: 1), ctx.step.run("y", lambda: 2))

    res = await call(client, [fn], fn, qi_id="7:0")
    assert [op["op"] for op in res.ops] == ["StepPlanned", "StepPlanned"]
    assert api.bodies == []


async def test_a_synchronous_handler_checkpoints_too() -> None:
    api, calls = CheckpointAPI(), []
    client = make_client(api)

    @client.function(id="fn", trigger="test/event")
    def fn(ctx: outlast.SyncContext) -> Any:
        return [ctx.step.run(n, lambda n=n: calls.append(n) or n) for n in ("a", "b")]

    res = await call(client, [fn], fn, qi_id="7:0")
    assert res.status == 200 and res.body == ["a", "b"] and api.steps() == ["a", "b"]


async def test_a_failing_step_is_answered_not_checkpointed() -> None:
    api = CheckpointAPI()
    client = make_client(api)

    @client.function(id="fn", trigger="test/event", retries=2)
    async def fn(ctx: outlast.Context) -> Any:
        await ctx.step.run("a", lambda: 1)
        await ctx.step.run("b", lambda: 1 / 0)

    res = await call(client, [fn], fn, qi_id="7:0", max_attempts=3)
    assert api.steps() == ["a"]
    assert res.op["op"] == "StepError" and res.op["id"] == h("b")


async def test_checkpoints_carry_the_hashed_signing_key() -> None:
    api = CheckpointAPI()
    key = "signkey-prod-" + "ab" * 32
    client = outlast.Client(
        "app",
        dev=True,
        signing_key=key,
        api_base_url=API,
        http_transport=httpx.MockTransport(api),
    )
    fn = three_steps(client, [])
    await call(client, [fn], fn, qi_id="7:0")
    expected = "Bearer " + signing.strip_prefix(signing.hash_key(key))
    assert {r.headers["authorization"] for r in api.requests} == {expected}


async def test_a_call_stops_checkpointing_after_its_time_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("outlast.sdk.checkpoint.MAX_CALL_SECONDS", 0.0)
    api, calls = CheckpointAPI(), []
    client = make_client(api)
    fn = three_steps(client, calls)
    res = await call(client, [fn], fn, qi_id="7:0")
    assert calls == ["a"] and res.op["id"] == h("a") and api.bodies == []
