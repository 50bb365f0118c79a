"""Client settings from arguments and environment, and sending events."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import outlast
from outlast.protocol import ids, jsonutil
from outlast.sdk import client as client_module


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "SEND_BACKOFF_SECONDS", 0.001)


def test_defaults() -> None:
    c = outlast.Client("app")
    assert not c.dev
    assert c.settings.api_origin == "http://127.0.0.1:8288"
    assert c.settings.event_api_origin == "http://127.0.0.1:8288"
    assert c.settings.send_event_key is None
    assert outlast.Client("app", dev=True).settings.send_event_key == "NO_EVENT_KEY_SET"


def test_env_outlast_beats_inngest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_EVENT_KEY", "from-inngest")
    monkeypatch.setenv("OUTLAST_EVENT_KEY", "from-outlast")
    monkeypatch.setenv("INNGEST_SIGNING_KEY", "signkey-test-aa")
    monkeypatch.setenv("INNGEST_BASE_URL", "http://base.test:1")
    monkeypatch.setenv("OUTLAST_API_BASE_URL", "http://api.test:2/")
    monkeypatch.setenv("INNGEST_SERVE_PATH", "/hooks")
    c = outlast.Client("app")
    assert c.settings.event_key == "from-outlast"
    assert c.settings.signing_key == "signkey-test-aa"
    assert c.settings.api_origin == "http://api.test:2"
    assert c.settings.event_api_origin == "http://base.test:1"
    assert c.settings.serve_path == "/hooks"
    # Arguments beat the environment.
    c = outlast.Client("app", event_key="arg", base_url="http://arg.test")
    assert c.settings.event_key == "arg"
    assert c.settings.api_origin == c.settings.event_api_origin == "http://arg.test"


@pytest.mark.parametrize(
    ("value", "dev", "origin"),
    [
        ("1", True, "http://127.0.0.1:8288"),
        ("true", True, "http://127.0.0.1:8288"),
        ("0", False, "http://127.0.0.1:8288"),
        ("false", False, "http://127.0.0.1:8288"),
        ("http://devserver:9999", True, "http://devserver:9999"),
    ],
)
def test_dev_env(monkeypatch: pytest.MonkeyPatch, value: str, dev: bool, origin: str) -> None:
    monkeypatch.setenv("INNGEST_DEV", value)
    c = outlast.Client("app")
    assert c.dev is dev
    assert c.settings.api_origin == origin
    assert c.settings.server_kind.value == ("dev" if dev else "cloud")


def test_empty_app_id() -> None:
    with pytest.raises(outlast.ConfigError):
        outlast.Client("")


class EventAPI:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == -1:
            raise httpx.ConnectError("refused", request=request)
        body = jsonutil.loads(request.content)
        if status == 503:
            return httpx.Response(status, text="later", headers={"retry-after": "0.3"})
        if status >= 500:
            return httpx.Response(status, text="oops")
        if status >= 400:
            return httpx.Response(status, json={"ids": [], "status": status, "error": "bad event"})
        return httpx.Response(
            200, json={"ids": [f"id{i}" for i in range(len(body))], "status": 200}
        )


def make_client(api: EventAPI, **kwargs: Any) -> outlast.Client:
    return outlast.Client(
        "app",
        event_key="key1",
        event_api_base_url="http://events.test",
        http_transport=httpx.MockTransport(api),
        **kwargs,
    )


async def test_send_posts_events() -> None:
    api = EventAPI([200])
    c = make_client(api)
    got = await c.send([outlast.Event(name="a", data={"x": 1}, id="dedupe"), {"name": "b"}])
    assert got == ["id0", "id1"]
    (req,) = api.requests
    assert str(req.url) == "http://events.test/e/key1"
    body = jsonutil.loads(req.content)
    assert body[0]["name"] == "a" and body[0]["data"] == {"x": 1} and body[0]["id"] == "dedupe"
    assert body[1] == {"name": "b", "data": {}, "ts": body[1]["ts"]}
    assert isinstance(body[0]["ts"], int)
    assert req.headers["x-inngest-sdk"].startswith("outlast-py:v")
    # The seed header is valid: the server can derive ids from it.
    assert len(ids.seeded_ulids(req.headers["x-inngest-event-id-seed"], 2)) == 2


async def test_send_retries_5xx_and_network_errors_with_the_same_seed() -> None:
    api = EventAPI([503, -1, 500, 200])
    got = await make_client(api).send(outlast.Event(name="a"))
    assert got == ["id0"]
    assert len(api.requests) == 4
    seeds = {r.headers["x-inngest-event-id-seed"] for r in api.requests}
    assert len(seeds) == 1


async def test_send_waits_as_long_as_retry_after_says() -> None:
    api = EventAPI([503, 200])
    started = time.monotonic()
    assert await make_client(api).send({"name": "a"}) == ["id0"]
    assert time.monotonic() - started >= 0.3
    assert len(api.requests) == 2


async def test_send_gives_up_after_five_attempts() -> None:
    api = EventAPI([500] * 10)
    with pytest.raises(outlast.SendError, match="5 attempts"):
        await make_client(api).send({"name": "a"})
    assert len(api.requests) == 5


async def test_send_does_not_retry_4xx() -> None:
    api = EventAPI([400])
    with pytest.raises(outlast.SendError) as info:
        await make_client(api).send({"name": "a"})
    assert info.value.message == "bad event"
    assert info.value.status == 400
    assert len(api.requests) == 1


async def test_send_without_event_key_in_cloud_mode() -> None:
    c = outlast.Client("app", http_transport=httpx.MockTransport(EventAPI([])))
    with pytest.raises(outlast.SendError, match="event key"):
        await c.send({"name": "a"})


async def test_dev_mode_uses_placeholder_key() -> None:
    api = EventAPI([200])
    c = outlast.Client("app", dev=True, http_transport=httpx.MockTransport(api))
    await c.send({"name": "a"})
    assert api.requests[0].url.path == "/e/NO_EVENT_KEY_SET"


def test_send_sync() -> None:
    api = EventAPI([502, 200])
    assert make_client(api).send_sync({"name": "a"}) == ["id0"]
    assert len(api.requests) == 2


async def test_send_sync_inside_a_running_loop() -> None:
    api = EventAPI([200])
    assert make_client(api).send_sync([{"name": "a"}, {"name": "b"}]) == ["id0", "id1"]


def test_event_round_trip() -> None:
    ev = outlast.Event(name="a", data={"k": [1]}, id="i", ts=5, user={"u": 1}, v="2")
    assert outlast.Event.from_dict(ev.to_dict()) == ev
    assert outlast.Event.from_dict({"name": "x", "data": None}).data == {}
    with pytest.raises(TypeError):
        outlast.Event.from_dict({"data": {}})
