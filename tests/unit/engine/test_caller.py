"""The caller against a real HTTP server on loopback: the headers Inngest sends with each
call, and a request that could not be written sent once more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from outlast.engine.caller import Caller, Done, Failed, GatewayAnswer
from outlast.engine.gateway import GatewayRequest, ai_request
from outlast.protocol.ops import MAX_STEP_OUTPUT_BYTES, Header, ServerKind

Seen = list[dict[str, str]]


async def serve(path: str, handler: Any) -> tuple[web.AppRunner, str]:
    """A server on loopback answering POST ``path``: its runner and origin."""
    server = web.Application()
    server.router.add_post(path, handler)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def app_url() -> AsyncIterator[tuple[str, Seen]]:
    seen: Seen = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response("ok", headers={Header.SDK: "test"})

    runner, origin = await serve("/api", handle)
    yield f"{origin}/api", seen
    await runner.cleanup()


async def test_each_call_carries_a_request_id_and_its_job_id(app_url: tuple[str, Seen]) -> None:
    url, seen = app_url
    caller = Caller(signing_key=None, server_kind=ServerKind.DEV)
    try:
        assert await caller.call(url, {}, "run-1", "run-1:7") == Done(output="ok", status=200)
        assert await caller.call(url, {}, "run-1", "run-1:7") == Done(output="ok", status=200)
    finally:
        await caller.close()
    first, second = ({k.lower(): v for k, v in h.items()} for h in seen)
    assert first[Header.JOB_ID] == second[Header.JOB_ID] == "run-1:7"
    assert first[Header.RUN_ID] == "run-1"
    assert first[Header.REQUEST_ID] != second[Header.REQUEST_ID]


async def test_a_request_that_could_not_be_written_is_sent_once_more(
    app_url: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = app_url
    caller = Caller(signing_key=None, server_kind=ServerKind.DEV)
    real_post = aiohttp.ClientSession.post
    failures = {"left": 1}

    def post(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise aiohttp.ClientOSError(None, f"Can not write request body for {url}")
        return real_post(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "post", post)
    try:
        assert await caller.call(url, {}, "run-1") == Done(output="ok", status=200)
        assert len(seen) == 1
        # Twice in a row: the call fails, saying why (and is retried as a failed attempt).
        failures["left"] = 2
        result = await caller.call(url, {}, "run-1")
    finally:
        await caller.close()
    assert isinstance(result, Failed)
    assert "Can not write request body" in result.error["message"]
    assert len(seen) == 1


async def test_a_gateway_request_is_sent_as_built_and_its_answer_read() -> None:
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def provider(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, dict(request.headers), await request.read()))
        if request.path == "/v1/down":
            return web.json_response({"error": "overloaded"}, status=529)
        if request.path == "/v1/huge":
            return web.Response(body=b"x" * (MAX_STEP_OUTPUT_BYTES + 1))
        return web.json_response({"ok": True})

    runner, origin = await serve("/v1/{name}", provider)
    caller = Caller(signing_key=None, server_kind=ServerKind.DEV)
    try:
        req = ai_request(
            {"url": f"{origin}/v1/messages", "auth_key": "k", "format": "anthropic", "body": {}}
        )
        ok = await caller.fetch(req)
        down = await caller.fetch(GatewayRequest(f"{origin}/v1/down", "{}"))
        huge = await caller.fetch(GatewayRequest(f"{origin}/v1/huge", "{}"))
        await runner.cleanup()
        gone = await caller.fetch(GatewayRequest(f"{origin}/v1/messages", "{}"))
    finally:
        await caller.close()
    assert ok == GatewayAnswer(200, '{"ok": true}', None) and ok.ok
    method, path, headers, body = seen[0]
    assert (method, path, body) == ("POST", "/v1/messages", b"{}")
    assert headers["X-Api-Key"] == "k"
    assert down.status == 529 and not down.ok and "overloaded" in (down.body or "")
    assert huge.problem is not None and "over" in huge.problem and not huge.ok
    assert gone.status is None and gone.problem is not None and not gone.ok
