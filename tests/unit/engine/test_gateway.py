"""``step.ai.infer``: the provider request built from the op, and the step its answer
makes (in-memory store)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast.domain import QueueKind, StepStatus
from outlast.engine.caller import GatewayAnswer
from outlast.engine.gateway import GatewayError, GatewayRequest, ai_request, usage
from outlast.store import Store

from .conftest import MakeMachine, due_items, first_answer, function

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def opts(**kw: Any) -> dict[str, Any]:
    return {"url": "http://127.0.0.1:9/v1/chat", "auth_key": "k", "body": BODY, **kw}


@pytest.mark.parametrize(
    ("fmt", "url", "auth"),
    [
        ("openai-chat", "http://127.0.0.1:9/v1/chat", ("Authorization", "Bearer k")),
        ("anthropic", "http://127.0.0.1:9/v1/chat", ("X-Api-Key", "k")),
        ("bedrock", "http://127.0.0.1:9/v1/chat", ("Authorization", "k")),
        ("gemini", "http://127.0.0.1:9/v1/chat?key=k", None),
    ],
)
def test_the_key_goes_where_the_format_wants_it(
    fmt: str, url: str, auth: tuple[str, str] | None
) -> None:
    req = ai_request(opts(format=fmt, headers={"x-my-header": "v"}))
    assert req.url == url and req.method == "POST"
    assert json.loads(req.body) == BODY
    assert req.headers["X-My-Header"] == "v"  # as Go's client writes header names
    assert req.headers["Content-Type"] == "application/json"
    if auth is not None:
        assert req.headers[auth[0]] == auth[1]
    assert GatewayRequest.decode(json.loads(json.dumps(req.encode()))) == req


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"url": "ftp://x/y"}, "needs an http"),
        ({"url": "http://"}, "with a host"),
        ({"body": "text"}, "JSON object as the request body"),
        ({"headers": ["x"]}, "headers must be a JSON object"),
    ],
)
def test_an_op_that_is_not_a_request_is_refused(bad: dict[str, Any], says: str) -> None:
    with pytest.raises(GatewayError, match=says):
        ai_request(opts(**bad))


_STEP = {
    "id": "step",
    "name": "step",
    "runtime": {"type": "http", "url": "http://127.0.0.1:1/api"},
    "retries": {"attempts": 1},
}
FN = function("app-ai", "ai", steps={"step": _STEP})  # one retry


async def _asked(store: Store, m: Any) -> Any:
    """A run whose app asked for an inference: the request's queue item."""
    op = {"op": "AIGateway", "id": "ask", "displayName": "ask", "opts": opts(format="anthropic")}
    run, nxt = await first_answer(store, m, "app-ai", [op])
    assert nxt is None
    [item] = await due_items(store, QueueKind.GATEWAY)
    assert await due_items(store, QueueKind.DISCOVER) == []  # the app is not held
    return run, item


async def test_the_providers_answer_is_the_steps_output(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(FN)
    run, item = await _asked(memory_store, m)
    async with memory_store.tx() as s:
        answer = GatewayAnswer(200, '{"content": [{"text": "hi"}]}', None)
        await m.gateway_answered(s, item, answer, 10, 20)
    async with memory_store.read() as r:
        assert await r.load_memos(run.id) == {"ask": {"data": {"content": [{"text": "hi"}]}}}
        [step] = await r.list_steps(run.id)
    assert step.status is StepStatus.COMPLETED and step.started_at == 10
    assert await due_items(memory_store, QueueKind.GATEWAY) == []
    assert len(await due_items(memory_store, QueueKind.DISCOVER)) == 1


async def test_a_failed_request_is_retried_then_fails_the_step_as_inngest_does(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(FN)
    run, item = await _asked(memory_store, m)
    async with memory_store.tx() as s:
        await m.gateway_answered(s, item, GatewayAnswer(500, '{"error": "down"}', None), 10, 20)
    [again] = await due_items(memory_store, QueueKind.GATEWAY)
    assert again.attempt == 1 and again.due_at > 20
    assert await due_items(memory_store, QueueKind.DISCOVER) == []
    async with memory_store.tx() as s:
        await m.gateway_answered(s, again, GatewayAnswer(None, None, "connection refused"), 30, 40)
    async with memory_store.read() as r:
        memos = await r.load_memos(run.id)
    err = memos["ask"]["error"]
    assert err["name"] == "AIGatewayError"
    assert err["message"] == "Error making AI request: connection refused"
    assert await due_items(memory_store, QueueKind.GATEWAY) == []
    assert len(await due_items(memory_store, QueueKind.DISCOVER)) == 1


@pytest.mark.parametrize(
    ("answer", "tokens"),
    [
        ({"usage": {"input_tokens": 9, "output_tokens": 11}}, (9, 11)),  # Anthropic
        ({"usage": {"prompt_tokens": 5, "completion_tokens": 2}}, (5, 2)),  # OpenAI
        ({"usage": {"inputTokens": 4, "outputTokens": 1}}, (4, 1)),  # Bedrock
        ({"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 8}}, (3, 8)),
        ({"usage": {"total": 3}}, None),
        ({"choices": []}, None),
        ("text", None),
    ],
)
def test_token_usage_is_read_in_each_formats_fields(
    answer: Any, tokens: tuple[int, int] | None
) -> None:
    expected = None if tokens is None else {"input_tokens": tokens[0], "output_tokens": tokens[1]}
    assert usage(answer) == expected
