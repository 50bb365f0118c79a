"""Dev-mode discovery: only URLs whose GET answers as an SDK get the sync PUT."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest

from outlast.protocol import jsonutil
from outlast.server import discovery
from outlast.server.discovery import Discovery, sync_url
from outlast.server.settings import ServerSettings

SDK = {"x-inngest-sdk": "inngest-py:v0.5.19"}
SETTINGS = ServerSettings(dev=True)


class FakeNet:
    """Answers by URL; records every request."""

    def __init__(self, answers: dict[str, httpx.Response | Exception]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []
        #: Set at every request, for tests that wait for the discovery loop.
        self.seen = asyncio.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.seen.set()
        answer = self.answers[str(request.url)]
        if isinstance(answer, Exception):
            raise answer
        if request.method == "PUT" and "x-inngest-sdk" in answer.headers:
            return httpx.Response(200, headers=SDK, json={"message": "Successfully registered"})
        return answer

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, str(r.url)) for r in self.requests]


async def sync(net: FakeNet, url: str) -> str | None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(net)) as client:
        return await sync_url(client, url, SETTINGS)


async def test_an_sdk_is_probed_then_sent_the_put() -> None:
    url = "http://127.0.0.1:3000/api/inngest"
    net = FakeNet({url: httpx.Response(200, headers=SDK, json={"mode": "dev"})})
    assert await sync(net, url) is None
    assert net.calls() == [("GET", url), ("PUT", url)]
    put = net.requests[1]
    assert jsonutil.loads(put.content) == {"url": url}
    assert put.headers["x-inngest-server-kind"] == "dev"


async def test_an_sdk_refusing_the_get_is_still_an_sdk() -> None:
    # A server-kind mismatch: the SDK answers 403 to GET, and PUT says why (HTTP 400).
    url = "http://127.0.0.1:3000/api/inngest"
    net = FakeNet({url: httpx.Response(403, headers=SDK, json={})})
    assert await sync(net, url) is None
    assert [m for m, _ in net.calls()] == ["GET", "PUT"]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>my blog</html>"),
        httpx.Response(404, json={"detail": "Not Found"}),
        httpx.Response(502, text="Bad Gateway"),
    ],
)
async def test_an_answer_without_the_sdk_header_gets_no_put(answer: httpx.Response) -> None:
    url = "http://127.0.0.1:8080/"
    net = FakeNet({url: answer})
    problem = await sync(net, url)
    assert problem is not None and "not an Inngest/Outlast SDK endpoint" in problem
    assert f"HTTP {answer.status_code}" in problem
    assert net.calls() == [("GET", url)]


async def test_an_unreachable_url_is_reported() -> None:
    url = "http://127.0.0.1:9/api"
    net = FakeNet({url: httpx.ConnectError("connection refused")})
    problem = await sync(net, url)
    assert problem is not None and problem.startswith(f"cannot reach {url}")
    assert net.calls() == [("GET", url)]


async def wait_until(net: FakeNet, check: Callable[[], bool], what: str) -> None:
    """Wait, with a deadline, until ``check`` holds after some request."""
    try:
        async with asyncio.timeout(5):
            while not check():
                net.seen.clear()
                await net.seen.wait()
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_discovery_retries_a_non_sdk_url_until_an_sdk_answers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(discovery, "RETRY_S", 0.01)
    url = "http://127.0.0.1:3000/api/outlast"
    net = FakeNet({url: httpx.Response(200, text="starting up")})
    disco = Discovery(ServerSettings(dev=True, sdk_urls=(url,)), httpx.MockTransport(net))
    caplog.set_level(logging.DEBUG, logger="outlast.server.discovery")
    disco.start()
    try:
        await wait_until(net, lambda: len(net.requests) >= 3, "three probes")
        assert {m for m, _ in net.calls()} == {"GET"}
        # Retried, but said once, clearly.
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "not an Inngest/Outlast SDK endpoint" in warnings[0].getMessage()
        # The app comes up behind the URL: the next round syncs it, then discovery ends.
        net.answers[url] = httpx.Response(200, headers=SDK, json={})
        await wait_until(net, lambda: ("PUT", url) in net.calls(), "the sync PUT")
        assert disco._task is not None
        await asyncio.wait_for(disco._task, 5)
    finally:
        await disco.stop()
    assert any(r.getMessage() == "synced app" for r in caplog.records)


async def test_polling_probes_and_syncs_again(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:3000/api/outlast"
    net = FakeNet({url: httpx.Response(200, headers=SDK, json={})})
    settings = ServerSettings(dev=True, sdk_urls=(url,), poll_interval_s=0.01)
    disco = Discovery(settings, httpx.MockTransport(net))
    disco.start()
    try:
        await wait_until(net, lambda: net.calls().count(("PUT", url)) >= 3, "three syncs")
    finally:
        await disco.stop()
    calls = net.calls()
    # Every PUT follows its own GET.
    assert all(calls[i - 1] == ("GET", url) for i, c in enumerate(calls) if c[0] == "PUT")
