"""The serve endpoint: signatures, introspection, sync (PUT), run state over the API."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import outlast
from outlast.protocol import jsonutil, signing
from outlast.protocol.registration import RegisterRequest
from outlast.sdk.serve.core import HttpRequest, ServeHandler

from .conftest import call, h, request_body

KEY = "signkey-prod-" + "ab" * 32
FALLBACK = "signkey-prod-" + "cd" * 32


def make_fn(client: outlast.Client) -> outlast.Function:
    @client.function(id="fn", trigger="test/event")
    async def fn(ctx: outlast.Context) -> Any:
        return "ok"

    return fn


def signed(body: dict[str, Any], key: str, ts: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = jsonutil.dumps(body)
    sig = signing.sign(jsonutil.canonical(jsonutil.loads(raw)), key, ts)
    return raw, {"x-inngest-signature": sig}


def test_cloud_mode_needs_a_signing_key() -> None:
    client = outlast.Client("app")
    with pytest.raises(outlast.ConfigError, match="signing key"):
        ServeHandler(client, [make_fn(client)], framework="test")


async def test_signature_accepted_with_key_and_fallback() -> None:
    client = outlast.Client("app", signing_key=KEY, signing_key_fallback=FALLBACK)
    fn = make_fn(client)
    for key in (KEY, FALLBACK):
        raw, headers = signed(request_body(), key)
        res = await call(client, [fn], fn, raw_body=raw, headers=headers)
        assert res.status == 200 and res.body == "ok"
        # The response is signed with the key that signed the request.
        assert res.headers["x-inngest-signature"].startswith("t=")


async def test_signature_forged_missing_or_stale_is_refused() -> None:
    client = outlast.Client("app", signing_key=KEY)
    fn = make_fn(client)
    raw, forged = signed(request_body(), "signkey-prod-" + "ee" * 32)
    assert (await call(client, [fn], fn, raw_body=raw, headers=forged)).status == 401
    missing = await call(client, [fn], fn, raw_body=raw, headers={})
    assert missing.status == 401
    assert missing.body["code"] == "sig_verification_failed"
    raw, stale = signed(request_body(), KEY, ts=int(time.time()) - 3600)
    assert (await call(client, [fn], fn, raw_body=raw, headers=stale)).status == 401
    # A body changed after signing does not verify.
    raw, headers = signed(request_body(attempt=0), KEY)
    tampered = jsonutil.dumps(request_body(attempt=1))
    assert (await call(client, [fn], fn, raw_body=tampered, headers=headers)).status == 401


async def test_signature_is_over_canonical_json() -> None:
    client = outlast.Client("app", signing_key=KEY)
    fn = make_fn(client)
    body = request_body()
    # Sign the canonical form, send a differently-ordered, spaced form.
    sig = signing.sign(jsonutil.canonical(body), KEY)
    import json

    raw = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    res = await call(client, [fn], fn, raw_body=raw, headers={"X-Inngest-Signature": sig})
    assert res.status == 200


async def test_dev_mode_ignores_signatures(client: outlast.Client) -> None:
    fn = make_fn(client)
    res = await call(client, [fn], fn, headers={"x-inngest-signature": "t=1&s=bad"})
    assert res.status == 200


async def test_introspection() -> None:
    client = outlast.Client("app", signing_key=KEY, event_key="evkey")
    fn = make_fn(client)
    handler = ServeHandler(client, [fn], framework="test")
    res = await handler.handle(HttpRequest("GET", "http://app.test/api/outlast", {}))
    assert res.status == 200
    assert res.headers["x-inngest-sdk"].startswith("outlast-py:v")
    assert jsonutil.loads(res.body) == {
        "schema_version": "2024-05-24",
        "function_count": 1,
        "has_event_key": True,
        "has_signing_key": True,
        "has_signing_key_fallback": False,
        "mode": "cloud",
    }
    # Signed: the authenticated form.
    sig = signing.sign(b"", KEY)
    res = await handler.handle(
        HttpRequest("GET", "http://app.test/api/outlast", {"x-inngest-signature": sig})
    )
    body = jsonutil.loads(res.body)
    assert body["authentication_succeeded"] is True
    assert body["app_id"] == "app"
    assert body["signing_key_hash"] == signing.strip_prefix(signing.hash_key(KEY))
    # A dev server poking a cloud-mode app is refused.
    res = await handler.handle(
        HttpRequest("GET", "http://app.test/api/outlast", {"x-inngest-server-kind": "dev"})
    )
    assert res.status == 403


class FakeServer:
    """Records register calls; answers like the server."""

    def __init__(self, responses: list[httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.responses = responses or []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.responses:
            return self.responses.pop(0)
        return httpx.Response(200, json={"ok": True, "modified": True, "app_id": "x"})


def full_featured(client: outlast.Client) -> list[outlast.Function]:
    @client.function(
        id="everything",
        name="Everything",
        trigger=[
            outlast.TriggerEvent("shop/order", expression="event.data.total > 10"),
            outlast.TriggerCron("TZ=Europe/Paris 0 12 * * 5", jitter="30s"),
        ],
        retries=7,
        cancel=outlast.Cancel("shop/cancel", match="data.order_id", timeout="1h"),
        timeouts=outlast.Timeouts(start="5m", finish=3_600_000),
        concurrency=[outlast.Concurrency(2, key="event.data.user", scope="fn")],
        throttle=outlast.Throttle(10, "1m", burst=2, key="event.data.user"),
        rate_limit=outlast.RateLimit(100, "1h"),
        debounce=outlast.Debounce("30s", timeout="2m"),
        priority=outlast.Priority("event.data.vip ? 60 : 0"),
        singleton=outlast.Singleton("skip", key="event.data.user"),
        idempotency="event.data.order_id",
        on_failure=lambda ctx: None,
    )
    async def everything(ctx: outlast.Context) -> None:
        return None

    @client.function(
        id="batcher",
        trigger="shop/item",
        batch_events=outlast.Batch(50, "10s", key="event.data.shop", if_exp="true"),
        concurrency=3,
    )
    def batcher(ctx: outlast.SyncContext) -> None:
        return None

    return [everything, batcher]


async def test_put_registers_functions() -> None:
    server = FakeServer()
    client = outlast.Client(
        "shop",
        signing_key=KEY,
        api_base_url="http://outlast.test:8288",
        http_transport=httpx.MockTransport(server),
    )
    handler = ServeHandler(client, full_featured(client), framework="flask")
    res = await handler.handle(
        HttpRequest(
            "PUT",
            "https://shop.example/api/outlast?deployId=dep-1",
            {"x-inngest-server-kind": "cloud"},
        )
    )
    assert res.status == 200, res.body
    assert jsonutil.loads(res.body) == {"message": "Successfully registered", "modified": True}

    (req,) = server.requests
    assert str(req.url) == "http://outlast.test:8288/fn/register?deployId=dep-1"
    assert req.headers["authorization"] == "Bearer " + signing.strip_prefix(signing.hash_key(KEY))
    assert req.headers["x-inngest-sdk"].startswith("outlast-py:v")
    assert req.headers["x-inngest-framework"] == "flask"
    assert req.headers["x-inngest-expected-server-kind"] == "cloud"
    body = jsonutil.loads(req.content)
    parsed = RegisterRequest.model_validate(body)
    assert parsed.app_name == "shop" and parsed.deploy_type == "ping" and body["v"] == "0.1"
    assert [f.id for f in parsed.functions] == [
        "shop-everything",
        "shop-everything-failure",
        "shop-batcher",
    ]

    main = body["functions"][0]
    url = "https://shop.example/api/outlast?fnId=shop-everything&stepId=step"
    assert main["steps"] == {
        "step": {
            "id": "step",
            "name": "step",
            "runtime": {"type": "http", "url": url},
            "retries": {"attempts": 7},
        }
    }
    assert main["name"] == "Everything"
    assert main["triggers"] == [
        {"event": "shop/order", "expression": "event.data.total > 10"},
        {"cron": "TZ=Europe/Paris 0 12 * * 5", "jitter": "30s"},
    ]
    assert main["cancel"] == [
        {
            "event": "shop/cancel",
            "if": "event.data.order_id == async.data.order_id",
            "timeout": "1h",
        }
    ]
    assert main["timeouts"] == {"start": "5m", "finish": "1h"}
    assert main["concurrency"] == [{"limit": 2, "key": "event.data.user", "scope": "fn"}]
    assert main["throttle"] == {"limit": 10, "period": "1m", "burst": 2, "key": "event.data.user"}
    assert main["rateLimit"] == {"limit": 100, "period": "1h"}
    assert main["debounce"] == {"period": "30s", "timeout": "2m"}
    assert main["priority"] == {"run": "event.data.vip ? 60 : 0"}
    assert main["singleton"] == {"mode": "skip", "key": "event.data.user"}
    assert main["idempotency"] == "event.data.order_id"

    failure = body["functions"][1]
    assert failure["name"] == "Everything (failure)"
    assert failure["triggers"] == [
        {
            "event": "inngest/function.failed",
            "expression": "event.data.function_id == 'shop-everything'",
        }
    ]
    assert failure["steps"]["step"]["runtime"]["url"].endswith(
        "fnId=shop-everything-failure&stepId=step"
    )

    batcher = body["functions"][2]
    assert batcher["batchEvents"] == {
        "maxSize": 50,
        "timeout": "10s",
        "key": "event.data.shop",
        "if": "true",
    }
    assert batcher["concurrency"] == [{"limit": 3}]
    assert "throttle" not in batcher and "cancel" not in batcher


async def test_put_uses_serve_origin_and_path() -> None:
    server = FakeServer()
    client = outlast.Client(
        "app",
        dev=True,
        serve_origin="http://host.docker.internal:9000",
        serve_path="/outlast",
        http_transport=httpx.MockTransport(server),
    )
    handler = ServeHandler(client, [make_fn(client)], framework="test")
    res = await handler.handle(HttpRequest("PUT", "http://localhost/api/x?a=b", {}))
    assert res.status == 200
    body = jsonutil.loads(server.requests[0].content)
    assert body["url"] == "http://host.docker.internal:9000/outlast"
    assert "authorization" not in server.requests[0].headers
    assert server.requests[0].headers["x-inngest-expected-server-kind"] == "dev"


async def test_put_retries_with_fallback_key_on_401() -> None:
    server = FakeServer([httpx.Response(401, json={"error": "bad key"})])
    client = outlast.Client(
        "app",
        signing_key=KEY,
        signing_key_fallback=FALLBACK,
        http_transport=httpx.MockTransport(server),
    )
    handler = ServeHandler(client, [make_fn(client)], framework="test")
    res = await handler.handle(HttpRequest("PUT", "http://app.test/api/outlast", {}))
    assert res.status == 200
    auths = [r.headers["authorization"] for r in server.requests]
    assert auths == [
        "Bearer " + signing.strip_prefix(signing.hash_key(KEY)),
        "Bearer " + signing.strip_prefix(signing.hash_key(FALLBACK)),
    ]


async def test_put_reports_server_error() -> None:
    server = FakeServer([httpx.Response(400, json={"error": "Expected server kind cloud"})])
    client = outlast.Client("app", dev=True, http_transport=httpx.MockTransport(server))
    handler = ServeHandler(client, [make_fn(client)], framework="test")
    res = await handler.handle(HttpRequest("PUT", "http://app.test/api/outlast", {}))
    assert res.status == 500
    body = jsonutil.loads(res.body)
    assert body["code"] == "registration_failed"
    assert body["message"] == "Expected server kind cloud"


async def test_put_kind_mismatch() -> None:
    server = FakeServer()
    client = outlast.Client("app", dev=True, http_transport=httpx.MockTransport(server))
    handler = ServeHandler(client, [make_fn(client)], framework="test")
    res = await handler.handle(
        HttpRequest("PUT", "http://app.test/api/outlast", {"X-Inngest-Server-Kind": "cloud"})
    )
    assert res.status == 400
    assert jsonutil.loads(res.body)["code"] == "server_kind_mismatch"
    assert server.requests == []


async def test_use_api_fetches_run_state() -> None:
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v0/runs/01BIG/batch":
            return httpx.Response(200, json=[{"name": "big/event", "data": {"n": 5}, "ts": 1}])
        if request.url.path == "/v0/runs/01BIG/actions":
            return httpx.Response(200, json={h("a"): {"data": 100}})
        return httpx.Response(404)

    client = outlast.Client(
        "app",
        signing_key=KEY,
        api_base_url="http://api.test",
        http_transport=httpx.MockTransport(api),
    )

    @client.function(id="fn", trigger="big/event")
    async def fn(ctx: outlast.Context) -> Any:
        a = await ctx.step.run("a", lambda: 0)
        return a + ctx.events[0].data["n"] + ctx.event.data["x"]

    body = request_body(run_id="01BIG", use_api=True)
    body["events"], body["steps"] = [], {}
    raw, headers = signed(body, KEY)
    res = await call(client, [fn], fn, raw_body=raw, headers=headers)
    assert res.status == 200 and res.body == 106
    assert {r.url.path for r in seen} == {"/v0/runs/01BIG/batch", "/v0/runs/01BIG/actions"}
    assert all(
        r.headers["authorization"] == "Bearer " + signing.strip_prefix(signing.hash_key(KEY))
        for r in seen
    )


async def test_unknown_function_and_bad_body(client: outlast.Client) -> None:
    fn = make_fn(client)
    handler = ServeHandler(client, [fn], framework="test")
    res = await handler.handle(
        HttpRequest(
            "POST", "http://a/x?fnId=app-nope&stepId=step", {}, jsonutil.dumps(request_body())
        )
    )
    assert res.status == 500 and jsonutil.loads(res.body)["code"] == "function_not_found"
    res = await handler.handle(HttpRequest("POST", "http://a/x?fnId=app-fn", {}, b'{"ctx": {}}'))
    assert res.status == 400 and jsonutil.loads(res.body)["code"] == "body_invalid"
    res = await handler.handle(HttpRequest("POST", "http://a/x?probe=trust", {}, b"{}"))
    assert res.status == 200
