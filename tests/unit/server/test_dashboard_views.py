"""What the dashboard's pages compute from the store's records: the runs filter, a
function's configuration and success rate, the formats, and what the templates render."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outlast.domain import FunctionStats, RunStatus
from outlast.server.dashboard import render
from outlast.server.dashboard.apps import url_problem
from outlast.server.dashboard.functions import describe, parse_object, success_rate, triggers
from outlast.server.dashboard.live import sse_message
from outlast.server.dashboard.runs import RunsQuery, parse_query


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_the_runs_filter_as_typed_and_as_a_query() -> None:
    query, where = parse_query(
        {"function_id": " app-fn ", "status": "Failed", "since": "2024-05-01T12:00", "until": ""}
    )
    assert query == RunsQuery("app-fn", "failed", "2024-05-01T12:00", "")
    assert not isinstance(where, str)
    assert (where.function_id, where.status) == ("app-fn", RunStatus.FAILED)
    assert (where.since, where.until) == (ms("2024-05-01T12:00"), None)
    # A zone given is kept; links carry the filters and the cursor.
    _, zoned = parse_query({"until": "2024-05-01T14:00+02:00"})
    assert not isinstance(zoned, str) and zoned.until == ms("2024-05-01T12:00")
    assert query.url(before="R1") == (
        "/runs?function_id=app-fn&status=failed&since=2024-05-01T12%3A00&before=R1"
    )
    assert RunsQuery().url() == "/runs"
    _, nothing = parse_query({})
    assert nothing == type(nothing)()  # no filter at all


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"status": "sideways"}, "unknown status"),
        ({"since": "yesterday"}, "since is not a date"),
        ({"until": "2024-13-01"}, "until is not a date"),
        ({"since": "2024-05-02", "until": "2024-05-01"}, "since must be earlier than until"),
        ({"since": "2024-05-01", "until": "2024-05-01"}, "since must be earlier than until"),
    ],
)
def test_a_wrong_filter_says_what_is_wrong(params: dict[str, str], words: str) -> None:
    _, where = parse_query(params)
    assert isinstance(where, str) and words in where


CONFIG = {
    "id": "app-fn",
    "triggers": [{"event": "a/b", "expression": "event.data.x > 1"}, {"cron": "0 * * * *"}],
    "steps": {"step": {"id": "step", "name": "step", "runtime": {}, "retries": {"attempts": 7}}},
    "rateLimit": {"limit": 5, "period": "1m"},
    "batch_events": {"maxSize": 10, "timeout": "5s"},
    "idempotency": "event.data.id",
}


def test_a_functions_configuration_lists_every_option_set_or_not() -> None:
    assert triggers(CONFIG) == ["a/b if event.data.x > 1", "cron: 0 * * * *"]
    items = {i.key: i.value for i in describe(CONFIG)}
    assert list(items) == [
        "triggers",
        "retries",
        "concurrency",
        "throttle",
        "rateLimit",
        "debounce",
        "batchEvents",
        "priority",
        "singleton",
        "idempotency",
        "cancel",
        "timeouts",
    ]
    assert items["triggers"] == "a/b if event.data.x > 1, cron: 0 * * * *"
    assert items["retries"] == "7"
    assert items["rateLimit"] == {"limit": 5, "period": "1m"}
    assert items["batchEvents"] == {"maxSize": 10, "timeout": "5s"}  # either spelling
    assert items["idempotency"] == "event.data.id" and items["throttle"] is None
    assert {i.key: i.value for i in describe({"triggers": []})}["retries"] == "4 (default)"


def test_the_success_rate_counts_finished_runs() -> None:
    assert success_rate(None) == "—"
    assert success_rate(FunctionStats(3, 0, 0, 0, 3)) == "—"
    assert success_rate(FunctionStats(5, 2, 1, 1, 1)) == "50% (2 of 4)"
    assert success_rate(FunctionStats(3, 2, 1, 0, 0)) == "67% (2 of 3)"


def test_json_typed_into_a_form() -> None:
    assert parse_object("", "data") == {} and parse_object("  ", "data") == {}
    assert parse_object('{"a": [1]}', "data") == {"a": [1]}
    assert "not valid JSON" in str(parse_object("{'a': 1}", "data"))
    assert "must be a JSON object" in str(parse_object("[1]", "data"))
    assert "got null" in str(parse_object("null", "data"))


def test_an_apps_url() -> None:
    assert url_problem("http://127.0.0.1:8000/api/outlast") is None
    assert url_problem("https://shop.example/api/inngest") is None
    for bad in ("", "127.0.0.1:8000/api", "ftp://x/y", "http://", "x" * 2001):
        assert url_problem(bad) is not None, bad


def test_formats() -> None:
    assert render.when(None) == "" and render.when(0) == "1970-01-01 00:00:00.000"
    assert [render.duration(v) for v in (None, 0, 999, 1500, 61_000, 3_660_000)] == [
        "",
        "0 ms",
        "999 ms",
        "1.50 s",
        "1 min 1 s",
        "1 h 1 min",
    ]
    assert render.duration(3 * 86_400_000) == "3 d 0 h"
    assert render.preview({"a": "x" * 200}, 20) == '{"a":"xxxxxxxxxxxxx…'
    assert render.preview({"ü": 1}) == '{"ü":1}'


def test_payloads_are_escaped_everywhere() -> None:
    html = render.fragment("_flash.html", message="<img src=x onerror=alert(1)>", status=400)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    rows = str(render.macro("event_rows")([], "<b>none</b>"))
    assert "<b>" not in rows and "&lt;b&gt;none&lt;/b&gt;" in rows


def test_a_server_sent_event_keeps_each_line_of_html_on_a_data_line() -> None:
    assert sse_message("runs", "<tr>\n<td>x</td>\n</tr>", "s1") == (
        b"event: runs\nid: s1\ndata: <tr>\ndata: <td>x</td>\ndata: </tr>\n\n"
    )
    assert sse_message("pager", "", "s2") == b"event: pager\nid: s2\ndata: \n\n"
