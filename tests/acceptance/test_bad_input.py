"""Bad input against the real server process.

Every mistake a client can make gets a 4xx answer whose JSON ``error`` names the problem;
nothing is half-done silently (protocol.md §1: a batch stops at its first invalid event,
the events before it are kept); and the server keeps serving afterwards: it is alive,
``/health`` answers, its log holds no traceback, and good input is still accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import ROOT, Server, free_port

APP = "tests.acceptance.apps.bad_input_app:app"
#: The function of APP, and the event that triggers it.
GREET_ID = "bad-input-app-greet"
GREET_EVENT = "bad-input/greet"

SIGNING_KEY = "5e" * 32
WRONG_SIGNING_KEY = "a1" * 32
EVENT_KEY = "k1"


def bearer_of(key: str) -> str:
    """What the SDKs send: sha256 hex of the key's bytes, its ``signkey-<env>-`` prefix removed."""
    body = key.split("-", 2)[2] if key.startswith("signkey-") else key
    return hashlib.sha256(bytes.fromhex(body)).hexdigest()


# -- helpers ---------------------------------------------------------------------------------


def request(
    server: Server,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str | bytes] | None = None,
) -> httpx.Response:
    content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    all_headers: dict[str, str | bytes] = {"content-type": "application/json", **(headers or {})}
    return httpx.request(
        method, f"{server.url}{path}", content=content, headers=all_headers, timeout=30
    )


def refused(r: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """Assert a JSON error answer with ``status`` whose message contains every one of ``words``."""
    assert r.status_code == status, f"wanted {status}, got {r.status_code}: {r.text[:500]}"
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body: dict[str, Any] = r.json()
    message = body.get("error")
    assert isinstance(message, str) and message, body
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in the error {message!r}"
    assert body.get("status") == status, body
    return body


def still_serving(server: Server) -> None:
    """The process is alive, answers /health, and has logged no traceback (no hidden 500)."""
    assert server.proc is not None and server.proc.poll() is None, server.log()
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-6000:]


def good_event_accepted(server: Server, key: str = "test", token: str | None = None) -> None:
    [event_id] = server.send({"name": "bad-input/still-fine", "data": {"ok": True}}, key=key)
    assert server.get(f"/v1/events/{event_id}", token)["name"] == "bad-input/still-fine"


def events_named(server: Server, name: str, token: str | None = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = server.get(f"/v1/events?name={name}&limit=1000", token)
    return events


def started(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.kill()


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTLAST_", "INNGEST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- servers shared by the tests of this module (each start costs about a second) -----------


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from started(Server(tmp_path_factory.mktemp("dev")))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A dev server whose event and request size limits are configured down to 2 and 8 KiB."""
    args = ["--max-event-bytes", "2048", "--max-request-bytes", "8192"]
    yield from started(Server(tmp_path_factory.mktemp("small"), args=args))


@pytest.fixture(scope="module")
def selfhosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    args = ["--event-key", EVENT_KEY, "--signing-key", SIGNING_KEY]
    yield from started(Server(tmp_path_factory.mktemp("start"), mode="start", args=args))


# -- 1. the event API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"name": "bad-input/x", "data": {', ["not valid JSON"]),
        (b"", ["not valid JSON"]),
        (b"\xff\xfe\x00", ["not valid JSON"]),
        (b"{'name': 'single quotes'}", ["not valid JSON"]),
        (b"42", ["array of events", "a number"]),
        (b'"bad-input/x"', ["array of events", "a string"]),
        (b"null", ["array of events", "null"]),
        (b"true", ["array of events", "a boolean"]),
        (b"[1, 2, 3]", ["event 0", "JSON object", "a number"]),
        (b'[{"name": "bad-input/x"}, "oops"]', ["event 1", "JSON object", "a string"]),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_event_api_refuses_a_body_that_is_not_events(
    dev: Server, raw: bytes, words: list[str]
) -> None:
    r = request(dev, "POST", "/e/test", raw=raw)
    body = refused(r, 400, *words)
    if raw.startswith(b"[{"):
        assert len(body["ids"]) == 1  # the valid event before the bad one is kept
    else:
        assert body["ids"] == []
    still_serving(dev)


def test_event_api_refuses_invalid_events_and_stores_none_of_them(dev: Server) -> None:
    name = "bad-input/invalid"
    cases: list[tuple[Any, list[str]]] = [
        ({}, ["event 0", "no name"]),
        ({"data": {"user_id": 1}}, ["no name"]),
        ({"name": None}, ["no name"]),
        ({"name": ""}, ["name is empty"]),
        ({"name": "   "}, ["name is empty"]),
        ({"name": 7}, ["name must be a string", "a number"]),
        ({"name": ["bad-input/x"]}, ["name must be a string", "an array"]),
        (
            {"name": "inngest/function.failed", "data": {"function_id": "x"}},
            ["inngest/", "reserved"],
        ),
        ({"name": "inngest/scheduled.timer"}, ["reserved"]),
        ({"name": "inngest/anything"}, ["reserved"]),
        ({"name": "x" * 257}, ["longer than 256"]),
        ({"name": name, "data": [1, 2]}, ["data must be a JSON object"]),
        ({"name": name, "data": "text"}, ["data must be a JSON object"]),
        ({"name": name, "data": 3}, ["data must be a JSON object"]),
        ({"name": name, "ts": "yesterday"}, ["ts must be a number"]),
        ({"name": name, "ts": True}, ["ts must be a number"]),
        ({"name": name, "ts": {"ms": 1}}, ["ts must be a number"]),
        ({"name": name, "ts": 1000}, ["ts must be between 1980 and 2100"]),
        ({"name": name, "ts": 10**13}, ["ts must be between 1980 and 2100"]),
        ({"name": name, "ts": -5}, ["ts must be between"]),
        ({"name": name, "id": 12}, ["id must be a string"]),
        ({"name": name, "id": ["a"]}, ["id must be a string"]),
        ({"name": name, "user": [1]}, ["user must be a JSON object"]),
        ({"name": name, "v": {"x": 1}}, ["v (the payload version) must be a string"]),
    ]
    for event, words in cases:
        r = request(dev, "POST", "/e/test", event)
        body = refused(r, 400, *words)
        assert body["ids"] == [], event
        still_serving(dev)
    assert events_named(dev, name) == []

    # At the limits, events are fine: a 256-character name, a 1980 timestamp.
    ids = dev.send([{"name": "n" * 256}, {"name": name + "-ok", "ts": 315_532_800_000}])
    assert len(ids) == 2
    assert dev.get(f"/v1/events/{ids[0]}")["name"] == "n" * 256
    good_event_accepted(dev)


def test_a_batch_stops_at_its_first_invalid_event_keeping_those_before(dev: Server) -> None:
    batch = [{"name": "bad-input/batch", "data": {"i": i}} for i in range(3)]
    batch.append({"name": "", "data": {"i": 3}})  # event 3 is invalid
    batch.append({"name": "bad-input/batch-after", "data": {"i": 4}})

    r = request(dev, "POST", "/e/test", batch)
    body = refused(r, 400, "event 3", "name is empty")
    # protocol.md §1: processing stops at the first invalid event; those before it are
    # stored and their ids returned, those after it are not processed at all.
    assert len(body["ids"]) == 3
    for i, event_id in enumerate(body["ids"]):
        stored = dev.get(f"/v1/events/{event_id}")
        assert stored["name"] == "bad-input/batch"
        assert stored["data"] == {"i": i}
    assert sorted(e["data"]["i"] for e in events_named(dev, "bad-input/batch")) == [0, 1, 2]
    assert events_named(dev, "bad-input/batch-after") == []
    still_serving(dev)
    good_event_accepted(dev)


def test_at_most_5000_events_per_request(dev: Server) -> None:
    too_many = [{"name": "bad-input/many", "data": {"i": i}} for i in range(5001)]
    body = refused(request(dev, "POST", "/e/test", too_many), 400, "more than 5000 events")
    assert body["ids"] == []
    assert events_named(dev, "bad-input/many") == []  # the whole request is refused
    still_serving(dev)

    ids = dev.send(too_many[:5000])
    assert len(ids) == len(set(ids)) == 5000
    assert len(events_named(dev, "bad-input/many")) == 1000  # one page of them
    still_serving(dev)


def test_event_and_request_limits_default(dev: Server) -> None:
    """Two limits, as Inngest's event API has: 3 MiB per event, and a request of its own
    (32 MiB) so that a batch of large events is accepted whole."""
    big = {"name": "bad-input/big", "data": {"blob": "x" * (3 * 1024 * 1024)}}
    body = refused(request(dev, "POST", "/e/test", big), 400, "event 0", "3145728 bytes")
    assert body["ids"] == []
    assert events_named(dev, "bad-input/big") == []

    # Eight 1 MiB events in one request (the official Python SDK's own batch case): kept.
    batch = [{"name": "bad-input/big", "data": {"blob": "x" * 1024 * 1024}} for _ in range(8)]
    ids = dev.send(batch)
    assert len(ids) == 8
    assert len(dev.get(f"/v1/events/{ids[0]}")["data"]["blob"]) == 1024 * 1024

    # Over the request limit: refused before it is read whole, also when chunked.
    huge = [{"name": "bad-input/huge", "data": {"blob": "x" * 1024 * 1024}} for _ in range(33)]
    refused(request(dev, "POST", "/e/test", huge), 413, "larger than 33554432 bytes")
    chunks = iter([json.dumps(huge).encode()])
    r = httpx.post(
        f"{dev.url}/e/test", content=chunks, headers={"content-type": "application/json"}
    )
    refused(r, 413, "33554432")
    assert events_named(dev, "bad-input/huge") == []
    good_event_accepted(dev)


def test_event_payload_limit_configured(small: Server) -> None:
    big = {"name": "bad-input/big", "data": {"blob": "x" * 3000}}
    body = refused(request(small, "POST", "/e/test", big), 400, "event 0", "2048 bytes")
    assert body["ids"] == []
    # A body just under the limit whose stored form (with id, ts, user) is over it.
    edge = {"name": "bad-input/big", "data": {"blob": "x" * 1990}}
    assert len(json.dumps(edge)) <= 2048
    refused(request(small, "POST", "/e/test", edge), 400, "event 0", "2048 bytes")
    assert events_named(small, "bad-input/big") == []
    still_serving(small)

    [event_id] = small.send({"name": "bad-input/big", "data": {"blob": "x" * 1000}})
    assert small.get(f"/v1/events/{event_id}")["data"]["blob"] == "x" * 1000
    # Events under their limit in a request over its own: refused whole, as 413.
    many = [{"name": "bad-input/many-small", "data": {"blob": "x" * 1000}} for _ in range(9)]
    body = refused(request(small, "POST", "/e/test", many), 413, "larger than 8192 bytes")
    assert body["ids"] == []
    assert events_named(small, "bad-input/many-small") == []
    good_event_accepted(small)


# -- 2. sync: POST /fn/register ----------------------------------------------------------------

FAKE_URL = "http://127.0.0.1:9/api/outlast"
FN_ID = "bad-input-fake-charge"


def fn_config(**extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "id": FN_ID,
        "name": "charge",
        "triggers": [{"event": "bad-input/never-sent"}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": f"{FAKE_URL}?fnId={FN_ID}&stepId=step"},
                "retries": {"attempts": 3},
            }
        },
    }
    config.update(extra)
    return config


def with_retries(attempts: Any) -> dict[str, Any]:
    config = fn_config()
    config["steps"]["step"]["retries"] = {"attempts": attempts}
    return config


def sync_body(*functions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": FAKE_URL,
        "appname": "bad-input-fake",
        "deploy_type": "ping",
        "framework": "asgi",
        "sdk": "outlast-py:v0",
        "v": "0.1",
        "functions": list(functions) or [fn_config()],
    }
    body.update(extra)
    return body


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def synced_functions(server: Server) -> list[str]:
    info = httpx.get(f"{server.url}/dev", timeout=10).json()
    return sorted(fn["id"] for fn in info["functions"])


SYNC_BODY_PROBLEMS: list[tuple[str, bytes | dict[str, Any], list[str]]] = [
    ("malformed JSON", b'{"url": "http://x", "functions": [', ["not valid JSON"]),
    ("empty body", b"", ["not valid JSON"]),
    ("a list", b"[]", ["must be a JSON object"]),
    ("a number", b"5", ["must be a JSON object"]),
    ("no url", without(sync_body(), "url"), ["url", "required"]),
    ("empty url", sync_body(url=""), ["url"]),
    ("url not a string", sync_body(url=8288), ["url", "valid string"]),
    ("no app name", without(sync_body(), "appname"), ["appname", "required"]),
    ("no functions", without(sync_body(), "functions"), ["functions", "required"]),
    ("functions not a list", sync_body(functions={"id": FN_ID}), ["functions", "list"]),
    ("function not an object", sync_body(functions=[5]), ["functions[0]"]),
]

#: (what, function config, words the error must contain besides the function id)
FUNCTION_PROBLEMS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("cron out of range", fn_config(triggers=[{"cron": "61 * * * *"}]), ["triggers[0].cron"]),
    (
        "cron not cron",
        fn_config(triggers=[{"cron": "every day"}]),
        ["triggers[0].cron", "5 fields"],
    ),
    (
        "cron unknown zone",
        fn_config(triggers=[{"cron": "TZ=Mars/Olympus 0 12 * * *"}]),
        ["triggers[0].cron", "time zone"],
    ),
    (
        "bad CEL",
        fn_config(triggers=[{"event": "bad-input/e", "expression": "event.data.total >"}]),
        ["triggers[0].expression", "CEL"],
    ),
    (
        "bad CEL in the second trigger",
        fn_config(
            triggers=[
                {"event": "bad-input/e"},
                {"event": "bad-input/f", "expression": "event.data.x == 'unterminated"},
            ]
        ),
        ["triggers[1].expression", "CEL"],
    ),
    (
        "CEL not a string",
        fn_config(triggers=[{"event": "bad-input/e", "expression": 5}]),
        ["triggers[0].expression", "valid string"],
    ),
    ("empty trigger event", fn_config(triggers=[{"event": ""}]), ["triggers[0].event"]),
    (
        "11 triggers",
        fn_config(triggers=[{"event": f"bad-input/e{i}"} for i in range(11)]),
        ["triggers", "at most 10"],
    ),
    ("retries -1", with_retries(-1), ["retries", "greater than or equal to 0"]),
    ("retries 21", with_retries(21), ["retries", "less than or equal to 20"]),
    ("retries a string", with_retries("many"), ["retries", "integer"]),
    ("unknown option", fn_config(colour="blue"), ["colour", "not permitted"]),
    (
        "unknown nested option",
        fn_config(throttle={"limit": 1, "period": "1s", "bursts": 2}),
        ["throttle.bursts", "not permitted"],
    ),
    (
        "6 cancel rules",
        fn_config(cancel=[{"event": f"bad-input/c{i}"} for i in range(6)]),
        ["cancel", "at most 5"],
    ),
    (
        "bad cancel expression",
        fn_config(cancel=[{"event": "bad-input/c", "if": "event.data.id == async.data."}]),
        ["cancel[0].if", "CEL"],
    ),
    (
        "3 concurrency constraints",
        fn_config(concurrency=[{"limit": 1}, {"limit": 2}, {"limit": 3}]),
        ["concurrency", "at most 2"],
    ),
    ("negative concurrency", fn_config(concurrency=-1), ["concurrency"]),
    (
        "bad concurrency scope",
        fn_config(concurrency=[{"limit": 1, "scope": "galaxy"}]),
        ["concurrency[0].scope"],
    ),
    (
        "unparseable throttle period",
        fn_config(throttle={"limit": 1, "period": "forever"}),
        ["throttle.period", "forever"],
    ),
    (
        "rate limit period over 24h",
        fn_config(rateLimit={"limit": 1, "period": "48h"}),
        ["rateLimit.period", "48h"],
    ),
    (
        "debounce period under 1s",
        fn_config(debounce={"period": "0s"}),
        ["debounce.period", "between 1s and 7d"],
    ),
    (
        "cancel timeout in years",
        fn_config(cancel=[{"event": "bad-input/c", "timeout": "2y"}]),
        ["cancel[0].timeout", "invalid duration"],
    ),
    ("negative finish timeout", fn_config(timeouts={"finish": -5}), ["timeouts.finish"]),
    (
        "absurd finish timeout",
        fn_config(timeouts={"finish": "99999999999999999999w"}),
        ["timeouts.finish", "longer than"],
    ),
    (
        "absurd cron jitter",
        fn_config(triggers=[{"cron": "* * * * *", "jitter": "9999999999999d"}]),
        ["triggers[0].jitter", "longer than"],
    ),
    (
        "bad singleton mode",
        fn_config(singleton={"key": "event.data.id", "mode": "queue"}),
        ["singleton.mode"],
    ),
    (
        "batch with cancel",
        fn_config(batchEvents={"maxSize": 10, "timeout": "5s"}, cancel=[{"event": "bad-input/c"}]),
        ["batchEvents", "cancel"],
    ),
]


def test_sync_refuses_a_body_that_is_not_a_sync(dev: Server) -> None:
    for what, body, words in SYNC_BODY_PROBLEMS:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = request(dev, "POST", "/fn/register", raw=raw)
        assert r.status_code == 400, (what, r.text)
        refused(r, 400, *words)
        still_serving(dev)
    r = request(
        dev,
        "POST",
        "/fn/register",
        sync_body(),
        headers={"x-inngest-expected-server-kind": "cloud"},
    )
    refused(r, 400, "Expected server kind cloud, got dev")
    refused(request(dev, "GET", "/fn/register"), 405, "GET")
    assert synced_functions(dev) == []


def test_sync_refuses_invalid_function_configs_naming_function_and_field(dev: Server) -> None:
    for what, config, words in FUNCTION_PROBLEMS:
        r = request(dev, "POST", "/fn/register", sync_body(config))
        assert r.status_code == 400, (what, r.text)
        refused(r, 400, f"function '{FN_ID}'", *words)
        still_serving(dev)

    # One bad function refuses the whole sync: the good one beside it is not synced either.
    other = fn_config(id="bad-input-fake-other")
    r = request(dev, "POST", "/fn/register", sync_body(other, fn_config(concurrency=[{}] * 3)))
    refused(r, 400, f"function '{FN_ID}'", "concurrency")
    r = request(dev, "POST", "/fn/register", sync_body(other, other))
    refused(r, 400, "bad-input-fake-other", "appears twice")
    assert synced_functions(dev) == []

    # A valid config at every limit is still accepted afterwards.
    full = fn_config(
        concurrency=[{"limit": 2, "key": "event.data.user"}, {"limit": 5, "scope": "env"}],
        cancel=[{"event": "bad-input/cancel", "if": "async.data.id == event.data.id"}] * 5,
        triggers=[{"event": f"bad-input/e{i}"} for i in range(9)] + [{"cron": "0 12 * * *"}],
        timeouts={"finish": "1h"},
    )
    full["steps"]["step"]["retries"] = {"attempts": 20}
    r = request(dev, "POST", "/fn/register", sync_body(full))
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True
    assert synced_functions(dev) == [FN_ID]
    still_serving(dev)


def test_a_real_app_still_syncs_and_runs_after_bad_input(dev: Server, make_app: MakeApp) -> None:
    request(dev, "POST", "/e/test", raw=b"{nope")
    request(dev, "POST", "/fn/register", raw=b"{nope")
    app = make_app(APP, env={"OUTLAST_DEV": dev.url})
    app.sync(dev)
    [event_id] = dev.send({"name": GREET_EVENT, "data": {"who": "ada"}})
    run = dev.wait_run(event_id, timeout=30)
    assert run["output"] == {"greeting": "hello ada"}
    assert run["function_id"] == GREET_ID
    still_serving(dev)


# -- 3. self-hosted mode (`outlast start`) ----------------------------------------------------


def test_start_mode_refuses_unknown_event_keys(selfhosted: Server) -> None:
    for key in ("wrong", "K1", "k1x", "%D0%BA%D0%BB%D1%8E%D1%87", "NO_EVENT_KEY_SET"):
        r = request(selfhosted, "POST", f"/e/{key}", {"name": "bad-input/keyed"})
        refused(r, 401, "Event key not found")
        still_serving(selfhosted)
    token = bearer_of(SIGNING_KEY)
    assert events_named(selfhosted, "bad-input/keyed", token) == []
    good_event_accepted(selfhosted, key=EVENT_KEY, token=token)


def test_start_mode_wants_the_signing_key_as_bearer(selfhosted: Server) -> None:
    token = bearer_of(SIGNING_KEY)
    routes = [
        ("POST", "/fn/register"),
        ("POST", "/fn/remove"),
        ("GET", "/v1/runs"),
        ("GET", "/v1/events"),
        ("GET", "/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("DELETE", "/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ]
    denied: list[tuple[dict[str, str | bytes], str]] = [
        ({}, "missing signing key"),
        ({"authorization": ""}, "missing signing key"),
        ({"authorization": "Bearer"}, "missing signing key"),
        ({"authorization": f"Basic {token}"}, "missing signing key"),
        ({"authorization": f"Bearer {bearer_of(WRONG_SIGNING_KEY)}"}, "invalid signing key"),
        ({"authorization": f"Bearer {WRONG_SIGNING_KEY}"}, "invalid signing key"),
        ({"authorization": f"Bearer {token[:-1]}"}, "invalid signing key"),
        ({"authorization": "Bearer ключ".encode()}, "invalid signing key"),
        (
            {"authorization": f"Bearer {hashlib.sha256(SIGNING_KEY.encode()).hexdigest()}"},
            "invalid",
        ),
    ]
    for method, path in routes:
        for headers, words in denied:
            r = request(selfhosted, method, path, {}, headers=headers)
            refused(r, 401, words)
        still_serving(selfhosted)

    # The right key, hashed (as the Python SDK sends it), with its prefix (as JS does) or plain.
    for good in (token, f"signkey-prod-{token}", SIGNING_KEY):
        headers: dict[str, str | bytes] = {"authorization": f"Bearer {good}"}
        assert request(selfhosted, "GET", "/v1/runs", headers=headers).status_code == 200
        r = request(selfhosted, "GET", "/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=headers)
        refused(r, 404, "run not found")
        # Past the key check, the sync is judged on its body.
        r = request(selfhosted, "POST", "/fn/register", raw=b"{", headers=headers)
        refused(r, 400, "not valid JSON")
    headers = {"authorization": f"Bearer {token}", "x-inngest-expected-server-kind": "dev"}
    r = request(selfhosted, "POST", "/fn/register", sync_body(), headers=headers)
    refused(r, 400, "Expected server kind dev, got cloud")
    # The dev-only routes are not there.
    refused(request(selfhosted, "GET", "/dev"), 404)
    still_serving(selfhosted)


def test_start_mode_app_with_the_wrong_key_is_refused_and_the_right_one_runs(
    selfhosted: Server, make_app: MakeApp
) -> None:
    token = bearer_of(SIGNING_KEY)
    base = {"OUTLAST_BASE_URL": selfhosted.url, "OUTLAST_EVENT_KEY": EVENT_KEY}

    impostor = make_app(APP, env={**base, "OUTLAST_SIGNING_KEY": WRONG_SIGNING_KEY})
    r = httpx.put(impostor.url, timeout=30)
    assert r.status_code >= 400, r.text
    assert "invalid signing key" in r.json()["message"]
    [lost] = selfhosted.send({"name": GREET_EVENT, "data": {"who": "eve"}}, key=EVENT_KEY)
    still_serving(selfhosted)
    assert selfhosted.runs_for(lost, token) == []  # nothing was synced, so nothing runs

    # The real app (its key written with the prefix the dashboards show) syncs; its run is
    # called with signed requests the app checks, and completes.
    app = make_app(APP, env={**base, "OUTLAST_SIGNING_KEY": f"signkey-prod-{SIGNING_KEY}"})
    app.sync(selfhosted)
    [event_id] = selfhosted.send({"name": GREET_EVENT, "data": {"who": "ada"}}, key=EVENT_KEY)
    run = selfhosted.wait_run(event_id, timeout=30, token=token)
    assert run["output"] == {"greeting": "hello ada"}
    assert selfhosted.runs_for(lost, token) == []
    still_serving(selfhosted)


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        ([], {}, "--event-key"),
        (["--signing-key", SIGNING_KEY], {}, "--event-key"),
        (["--event-key", EVENT_KEY], {}, "--signing-key"),
        ([], {"OUTLAST_EVENT_KEY": EVENT_KEY}, "--signing-key"),
        (["--event-key", EVENT_KEY, "--signing-key", "abc123"], {}, "at least 16 characters"),
    ],
    ids=["nothing", "no-event-key", "no-signing-key", "env-event-key-only", "short-key"],
)
def test_start_refuses_to_run_without_keys(
    tmp_path: Path, args: list[str], env: dict[str, str], words: str
) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "outlast.cli", "start", "--port", str(port)]
    cmd += ["--sqlite-dir", str(tmp_path / "db"), *args]
    done = subprocess.run(
        cmd, env={**clean_env(), **env}, cwd=ROOT, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    stderr = done.stderr.decode()
    assert words in stderr, stderr
    assert "Traceback" not in stderr
    # It did not serve anything in the meantime.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)


def test_start_runs_on_an_environment_written_for_inngest_start(tmp_path: Path) -> None:
    """``INNGEST_*`` settings work unchanged; ``OUTLAST_*`` wins where both are set."""
    inngest_port, port = free_port(), free_port()
    env = {
        **clean_env(),
        "INNGEST_EVENT_KEY": "inngest-key",
        "INNGEST_SIGNING_KEY": SIGNING_KEY,
        "INNGEST_SQLITE_DIR": str(tmp_path / "db"),
        "INNGEST_PORT": str(inngest_port),
        "OUTLAST_PORT": str(port),
    }
    cmd = [sys.executable, "-m", "outlast.cli", "start"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                proc.poll()
                assert proc.returncode is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.1)
        r = httpx.post(f"{url}/e/inngest-key", json={"name": "env/works"}, timeout=10)
        assert r.status_code == 200, r.text
        assert httpx.post(f"{url}/e/other", json={"name": "x"}, timeout=10).status_code == 401
        assert (tmp_path / "db" / "outlast.db").exists()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{inngest_port}/health", timeout=1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--max-event-bytes", "0"], "--max-event-bytes must be from 1024"),
        (["--max-event-bytes", str(4 * 1024 * 1024)], "--max-event-bytes must be from 1024"),
        (["--max-request-bytes", "1000"], "--max-request-bytes must be from --max-event-bytes"),
        (["--max-request-bytes", str(300 * 2**20)], "--max-request-bytes must be from"),
        (["--queue-workers", "0"], "--queue-workers must be at least 1"),
        (["--retry-interval", "-1"], "--retry-interval must be a positive"),
        (["--poll-interval", "-2"], "--poll-interval must be 0"),
    ],
    ids=[
        "tiny-limit",
        "huge-limit",
        "tiny-request",
        "huge-request",
        "no-workers",
        "negative-retry",
        "negative-poll",
    ],
)
def test_dev_refuses_bad_flags(tmp_path: Path, args: list[str], words: str) -> None:
    cmd = [sys.executable, "-m", "outlast.cli", "dev", "--port", str(free_port())]
    cmd += ["--sqlite-dir", str(tmp_path / "db"), *args]
    done = subprocess.run(
        cmd, env=clean_env(), cwd=ROOT, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert words in done.stderr.decode()


# -- 4. the REST API and unknown routes ------------------------------------------------------


def test_rest_api_refuses_bad_queries_with_json(dev: Server) -> None:
    missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    refused(request(dev, "GET", f"/v1/runs/{missing}"), 404, "run not found")
    refused(request(dev, "DELETE", f"/v1/runs/{missing}"), 404, "run not found")
    refused(request(dev, "GET", f"/v1/events/{missing}"), 404, "event not found")
    refused(request(dev, "GET", f"/v1/events/{missing}/runs"), 404, "event not found")
    refused(request(dev, "GET", f"/v0/runs/{missing}/batch"), 404, "run not found")
    refused(request(dev, "GET", f"/v0/runs/{missing}/actions"), 404, "run not found")
    for path in ("/v1/runs", "/v1/events"):
        for limit in ("0", "-1", "abc", "1001", "2.5", "", "%C2%B2", "9" * 5000):
            r = request(dev, "GET", f"{path}?limit={limit}")
            refused(r, 400, "limit must be a whole number from 1 to 1000")
        for limit in ("1", "1000"):
            assert request(dev, "GET", f"{path}?limit={limit}").status_code == 200
    for status in ("bogus", "done", "Completed;DROP"):
        r = request(dev, "GET", f"/v1/runs?status={status}")
        refused(r, 400, "unknown run status", status, "Completed")
    for status in ("Completed", "failed", "Running", "Cancelled"):
        assert request(dev, "GET", f"/v1/runs?status={status}").status_code == 200
    still_serving(dev)


def test_unknown_routes_and_methods_answer_json(dev: Server) -> None:
    for method, path, status in [
        ("GET", "/nope", 404),
        ("GET", "/v1/nope", 404),
        ("GET", "/v2/runs", 404),
        ("POST", "/e/", 404),
        ("GET", "/e/test", 405),
        ("PUT", "/health", 405),
        ("POST", "/v1/runs", 405),
        ("PATCH", "/v1/runs/abc", 405),
        ("GET", "/fn/remove", 405),
    ]:
        r = request(dev, method, path)
        refused(r, status, path)
    # "/" is the dashboard's home: it shows the runs.
    home = request(dev, "GET", "/")
    assert home.status_code == 303 and home.headers["location"].endswith("/runs")
    still_serving(dev)
    good_event_accepted(dev)


# -- NUL characters: valid JSON and URLs, but PostgreSQL text cannot hold them ---------------


def test_nul_characters_are_refused_or_kept_never_a_crash(
    make_server: MakeServer, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    r = request(server, "POST", "/e/test", {"name": "bad-input/a\u0000b"})
    refused(r, 400, "event 0", "name", "NUL")
    r = request(server, "POST", "/e/test", {"name": "bad-input/nul", "id": "id-\u0000"})
    refused(r, 400, "event 0", "id", "NUL")
    assert events_named(server, "bad-input/nul") == []
    # In data, a NUL is just a character of a JSON string: kept as sent.
    [event_id] = server.send({"name": "bad-input/nul", "data": {"s": "a\u0000b"}})
    assert server.get(f"/v1/events/{event_id}")["data"] == {"s": "a\u0000b"}

    r = request(server, "POST", "/fn/register", sync_body(fn_config(id="fn-\u0000")))
    refused(r, 400, "id", "NUL")
    r = request(server, "POST", "/fn/register", sync_body(appname="app\u0000"))
    refused(r, 400, "appname", "NUL")
    triggers = [{"event": "bad-input/\u0000"}]
    r = request(server, "POST", "/fn/register", sync_body(fn_config(triggers=triggers)))
    refused(r, 400, f"function '{FN_ID}'", "triggers[0].event", "NUL")

    for path in ("/v1/runs/%00", "/v1/events/%00", "/v1/events/%00/runs", "/v1/runs?cursor=%00"):
        refused(request(server, "GET", path), 400, "NUL")
    refused(request(server, "GET", "/v1/events?name=a%00b"), 400, "NUL")
    still_serving(server)
    good_event_accepted(server)
