"""Sync, keys and event sending, for each of the three clients, beyond the scenario runs:
signing-key rotation (the fallback key), the expected-server-kind check, and a send whose
answer is lost being retried by the SDK without creating a second event or run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from outlast.protocol.signing import hash_key
from tests.acceptance.compat.conftest import app_for, ensure_node_app, signing_key
from tests.acceptance.compat.scenarios import CLIENTS, Target
from tests.acceptance.conftest import MakeServer
from tests.acceptance.harness import App, free_port


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[Any]:
    started: list[App] = []

    def start(client: str, env: dict[str, str]) -> App:
        if client == "js":
            ensure_node_app()
        app = app_for(client, tmp_path, env, free_port())
        app.start()
        started.append(app)
        return app

    yield start
    for app in started:
        app.kill()


def origin(app: App) -> str:
    return app.url.removesuffix("/api/inngest")


@pytest.mark.parametrize("client", CLIENTS)
def test_rotated_signing_key_syncs_and_runs_with_the_fallback(
    make_server: MakeServer, start_app: Any, client: str
) -> None:
    """The app still has the old key first and the new one as fallback: its sync is refused
    with the old key and retried with the fallback; the server's signed calls verify."""
    new, old, event_key = signing_key(), signing_key(), "ek"
    server = make_server(mode="start", args=["--event-key", event_key, "--signing-key", new])
    env = {
        "INNGEST_DEV": "0",
        "INNGEST_BASE_URL": server.url,
        "INNGEST_SIGNING_KEY": old,
        "INNGEST_SIGNING_KEY_FALLBACK": new,
        "INNGEST_EVENT_KEY": event_key,
    }
    app = start_app(client, env)
    r = httpx.put(app.url, timeout=30)
    assert r.status_code == 200 and "error" not in r.json(), r.text
    target = Target(client, server, origin(app), hash_key(new))
    assert target.completed(target.send("steps", {"n": 4})) == {"result": 9}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("prefixed", ["server", "app"])
def test_a_signing_key_with_or_without_its_prefix_is_the_same_key(
    make_server: MakeServer, start_app: Any, client: str, prefixed: str
) -> None:
    """``signkey-prod-<hex>`` on one side and the bare hex on the other work together: the
    sync's Bearer token (hashed, prefix kept or not) and the call signatures match."""
    key = signing_key()
    bare = key.removeprefix("signkey-test-")
    server_key, app_key = (key, bare) if prefixed == "server" else (bare, key)
    server = make_server(mode="start", args=["--event-key", "ek", "--signing-key", server_key])
    env = {
        "INNGEST_DEV": "0",
        "INNGEST_BASE_URL": server.url,
        "INNGEST_SIGNING_KEY": app_key,
        "INNGEST_EVENT_KEY": "ek",
    }
    app = start_app(client, env)
    r = httpx.put(app.url, timeout=30)
    assert r.status_code == 200 and "error" not in r.json(), r.text
    target = Target(client, server, origin(app), hash_key(key))
    assert target.completed(target.send("steps", {"n": 1})) == {"result": 3}


@pytest.mark.parametrize("client", CLIENTS)
def test_app_in_production_mode_is_not_synced_to_a_dev_server(
    make_server: MakeServer, start_app: Any, client: str
) -> None:
    server = make_server()
    env = {
        "INNGEST_DEV": "0",
        "INNGEST_BASE_URL": server.url,
        "INNGEST_SIGNING_KEY": signing_key(),
        "INNGEST_EVENT_KEY": "ek",
    }
    app = start_app(client, env)
    # The SDK passes the kind the PUT claims on to the server as the kind it expects
    # (x-inngest-expected-server-kind); a dev server refuses a sync that expects "cloud".
    r = httpx.put(app.url, headers={"x-inngest-server-kind": "cloud"}, timeout=30)
    # inngest-py passes the server's error on with HTTP 200; the others answer an error.
    assert r.status_code >= 400 or "error" in r.json(), r.text
    assert "expected server kind cloud, got dev" in r.text.lower(), r.text
    functions = httpx.get(f"{server.url}/dev", timeout=10).json()["functions"]
    assert not [f for f in functions if f["app_id"] == f"compat-{client}"]


class FlakyProxy:
    """Forwards event sends to the server, but answers the first one with a 502 after the
    server has stored it: the SDK sees a failure and sends the same events again."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.forwarded: list[dict[str, Any]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status, content = proxy.forward(self.path, body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        skip = ("host", "content-length")
        kept = {k: v for k, v in headers.items() if k.lower() not in skip}
        r = httpx.post(f"{self.upstream}{path}", content=body, headers=kept, timeout=10)
        self.forwarded.append({"headers": dict(r.request.headers), "answer": r.json()})
        if len(self.forwarded) == 1:
            return 502, b'{"error": "bad gateway"}'
        return r.status_code, r.content

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_send_retried_after_a_lost_answer_creates_no_duplicate(
    make_server: MakeServer, start_app: Any, client: str
) -> None:
    server = make_server()
    proxy = FlakyProxy(server.url)
    try:
        env = {"INNGEST_DEV": server.url, "INNGEST_EVENT_API_BASE_URL": proxy.url}
        app = start_app(client, env)
        assert httpx.put(app.url, timeout=30).status_code == 200
        target = Target(client, server, origin(app))
        sent = target.send_many([("steps", {"n": 1}), ("steps", {"n": 2})])
    finally:
        proxy.close()
    assert len(proxy.forwarded) == 2, "the SDK did not retry the failed send"
    first, second = proxy.forwarded
    seed = "x-inngest-event-id-seed"
    assert first["headers"][seed] == second["headers"][seed]
    # The retry got the ids the lost answer had: the same events, not new ones.
    assert first["answer"]["ids"] == second["answer"]["ids"] == sent
    stored = target.get(f"/v1/events?name={target.event('steps')}")
    assert sorted(e["internal_id"] for e in stored) == sorted(sent)
    for event_id, n in zip(sent, (1, 2), strict=True):
        assert target.completed(event_id) == {"result": n * 2 + 1}
        assert len(target.get(f"/v1/events/{event_id}/runs")) == 1


@pytest.mark.parametrize("client", ["js", "ol"])
def test_sdks_checkpoint_steps_run_in_a_row_within_one_call(
    make_server: MakeServer, start_app: Any, client: str
) -> None:
    """The server sends ctx.fn_id and ctx.qi_id, so the JS SDK v4 and Outlast's SDK run
    both steps of the function in the first call and save them through /v1/checkpoint: one
    call in all, where the classic protocol needs three."""
    server = make_server(args=["--log-level", "debug"])  # debug logs every call to an app
    app = start_app(client, {"INNGEST_DEV": server.url})
    assert httpx.put(app.url, timeout=30).status_code == 200
    target = Target(client, server, origin(app))
    event_id = target.send("steps", {"n": 2})
    assert target.completed(event_id) == {"result": 5}
    run = target.wait_end(event_id)
    assert [s["output"] for s in run["steps"]] == [4, 5]
    log = server.log_path.read_text()
    calls = [
        line
        for line in log.splitlines()
        if "called" in line and f"fnId=compat-{client}-steps&" in line
    ]
    assert len(calls) == 1, calls
