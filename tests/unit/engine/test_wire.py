"""How the engine reads apps' answers and checks incoming events."""

from __future__ import annotations

import httpx
import pytest

from outlast.engine.caller import parse_response, parse_retry_after
from outlast.engine.events import InvalidEvent, normalise
from outlast.engine.executor import step_url

SDK = {"x-inngest-sdk": "outlast-py:v0.1.0"}


def test_200_is_the_function_result() -> None:
    r = parse_response(200, httpx.Headers(SDK), b'{"ok": true}')
    assert r.kind == "done" and r.output == {"ok": True}


def test_200_whose_body_is_not_json_is_an_error_not_an_output() -> None:
    r = parse_response(200, httpx.Headers(SDK), b"<html>proxy says hi</html>")
    assert r.kind == "error" and r.status == 200
    assert "not JSON" in (r.error or {})["message"] and "proxy says hi" in r.error["message"]
    assert parse_response(200, httpx.Headers(SDK), b"").kind == "done"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"weird": true}', "has no 'op' (its keys: weird)"),
        (b'[{"op": "StepRun", "data": 1}]', "op 0 of the answer ('StepRun') has no step 'id'"),
        (b'[{"op": "StepRun", "id": "a"}, 3]', "op 1 of the answer is a number"),
        (b'"ops"', "must be a list of ops, not a string"),
        (b"not json", "must be a list of ops, not a string"),
    ],
)
def test_a_206_the_server_cannot_apply_is_an_error_naming_why(body: bytes, says: str) -> None:
    r = parse_response(206, httpx.Headers(SDK), body)
    assert r.kind == "error" and says in (r.error or {})["message"]


def test_206_is_a_list_of_ops_and_a_single_object_is_accepted() -> None:
    r = parse_response(206, httpx.Headers(SDK), b'{"op": "StepRun", "id": "x", "data": 1}')
    assert r.kind == "ops" and [o.to_wire() for o in r.ops] == [
        {"op": "StepRun", "id": "x", "data": 1}
    ]
    assert parse_response(206, httpx.Headers(SDK), b"[]").ops == ()


def test_errors_carry_no_retry_and_retry_after() -> None:
    headers = httpx.Headers({**SDK, "x-inngest-no-retry": "true", "retry-after": "30"})
    body = b'{"name": "NonRetriableError", "message": "nope", "stack": "s"}'
    r = parse_response(500, headers, body)
    assert r.kind == "error" and r.no_retry and r.retry_after_ms == 30_000
    assert r.error == {"name": "NonRetriableError", "message": "nope", "stack": "s"}


def test_an_answer_without_the_sdk_header_is_not_an_sdk() -> None:
    r = parse_response(200, httpx.Headers({}), b"<html>hi</html>")
    assert r.kind == "error" and "not an SDK" in (r.error or {})["message"]


def test_streamed_201_unwraps_the_inner_response() -> None:
    body = b'[{\\"op\\": \\"StepRun\\", \\"id\\": \\"a\\"}]'
    inner = b'   \n {"status": 206, "headers": {}, "body": "' + body + b'"}'
    r = parse_response(201, httpx.Headers({}), inner)
    assert r.kind == "ops" and r.ops[0].id == "a"


def test_retry_after_is_clamped_and_reads_dates() -> None:
    assert parse_retry_after("0") == 1_000
    assert parse_retry_after(str(10 * 86_400)) == 86_400_000
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480) == 1_000
    assert parse_retry_after("2030-01-01T00:00:10Z", now=1893456000) == 10_000
    assert parse_retry_after("garbage") is None


def test_step_url_replaces_the_step_id() -> None:
    url = "http://127.0.0.1:9/api?fnId=app-f&stepId=step"
    assert step_url(url, "abc") == "http://127.0.0.1:9/api?fnId=app-f&stepId=abc"


def test_normalise_fills_defaults_and_drops_reserved_data() -> None:
    rec = normalise(
        {"name": "a", "data": {"x": 1, "_inngest": {}}}, "01ID", 1_700_000_000_000, 1024
    )
    assert rec.payload == {
        "name": "a",
        "data": {"x": 1},
        "id": "01ID",
        "ts": 1_700_000_000_000,
        "user": {},
    }


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("x", "JSON object"),
        ({"name": ""}, "empty"),
        ({"name": "inngest/x"}, "reserved"),
        ({"name": "a", "data": [1]}, "data must be"),
        ({"name": "a", "ts": 5}, "between 1980"),
        ({"name": "a", "ts": "now"}, "milliseconds"),
        ({"name": "a", "id": 5}, "id must be"),
        ({"name": "a" * 300}, "longer than"),
        ({"name": "a", "data": {"big": "x" * 2000}}, "larger than"),
    ],
)
def test_normalise_refuses_bad_events(event: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        normalise(event, "01ID", 1_700_000_000_000, 1024)
