"""A function's flow-control state as its page shows it: where each option's keys start
(the same as the engine stores them), when GCRA next admits, which concurrency keys are
shown, and what the section renders."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from outlast.domain import FunctionRecord, RunStatus
from outlast.engine import flow
from outlast.engine.expressions import evaluate_key
from outlast.engine.flow import ConcurrencySpec, GcraSpec, SingletonSpec
from outlast.server import reads
from outlast.server.dashboard import render
from outlast.server.reads import (
    BatchesNow,
    BatchNow,
    ConcurrencyKeyNow,
    ConcurrencyNow,
    DebounceKeyNow,
    DebounceNow,
    FlowNow,
    GcraKeyNow,
    GcraNow,
    SingletonKeyNow,
    SingletonNow,
)
from outlast.store.dashboard import Bounded, KeyLoad

EVENT: dict[str, Any] = {"name": "e", "data": {"user": "ann", "n": 2}}
URL = "http://127.0.0.1:1/api"


class _TestIds(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "data-testid" in values:
            self.found.append(values)


def by_testid(html: str, testid: str, **attrs: str) -> list[dict[str, str]]:
    """The attributes of each element with ``data-testid=testid`` (and ``data-<k>=v``)."""
    parser = _TestIds()
    parser.feed(html)
    return [
        e
        for e in parser.found
        if e["data-testid"] == testid
        and all(e.get(f"data-{k.replace('_', '-')}") == v for k, v in attrs.items())
    ]


@pytest.mark.parametrize("scope", ["fn", "env", "account"])
@pytest.mark.parametrize("key", [None, "event.data.user", "event.data.n"])
def test_concurrency_keys_start_with_their_constraints_prefix(scope: str, key: str | None) -> None:
    spec = ConcurrencySpec(3, key, scope)
    [(stored, limit)] = flow.concurrency_keys("app-fn", (spec,), EVENT)
    prefix = reads.concurrency_prefix("app-fn", spec)
    assert limit == 3 and stored.startswith(prefix)
    assert stored[len(prefix) :] == (evaluate_key(key, EVENT) if key else "")


@pytest.mark.parametrize("key", [None, "event.data.user"])
def test_gcra_and_singleton_keys_start_with_the_functions_prefix(key: str | None) -> None:
    value = "ann" if key else ""
    gcra = GcraSpec(1, 1000, 0, key)
    for kind in ("throttle", "rate"):
        assert (
            flow.gcra_key(kind, "app-fn", gcra, EVENT) == reads.gcra_prefix(kind, "app-fn") + value
        )
    single = SingletonSpec(key, "skip")
    assert flow.singleton_key("app-fn", single, EVENT) == reads.keyed_prefix("app-fn") + value


@pytest.mark.parametrize(
    ("limit", "period", "burst"), [(1, 60_000, 0), (5, 5_000, 0), (2, 1_000, 3)]
)
def test_the_next_admission_follows_the_engines_gcra(limit: int, period: int, burst: int) -> None:
    spec = GcraSpec(limit, period, burst, None)
    now = 1_000_000
    assert reads.admitted_at(None, now, spec) is None
    for tat in range(now - 2 * period, now + 3 * period, period // 7 + 1):
        at = reads.admitted_at(tat, now, spec)
        # A run created now starts then (throttle) ...
        assert flow.throttle_admit(tat, now, spec)[0] == (now if at is None else at)
        # ... and an event sent now is admitted only if that is now (rate limit).
        assert (flow.rate_limit_admit(tat, now, spec) is not None) == (at is None)
        if at is not None:
            assert flow.rate_limit_admit(tat, at, spec) is not None


def test_the_busiest_concurrency_keys_are_shown_with_their_value_and_scope() -> None:
    specs = (ConcurrencySpec(2, "event.data.user", "fn"), ConcurrencySpec(9, "event.data.t", "env"))
    loads = [KeyLoad(f"fn:app-fn:u{i:02d}", 2, 1, i, False) for i in range(15)]
    # A tie goes by key.
    loads.append(KeyLoad("fn:app-fn:u10b", 2, 2, 9, False))
    loads.append(KeyLoad("env:event.data.t:acme", 9, 9, 100, True))
    shown = reads.busiest_keys("app-fn", specs, Bounded(loads, True))
    assert (shown.found, shown.more, shown.keyed) == (17, True, True)
    assert len(shown.keys) == reads.FLOW_ROWS
    top = shown.keys[0]
    assert (top.value, top.stored, top.scope, top.load.load) == (
        "acme",
        "env:event.data.t:acme",
        "env",
        109,
    )
    values = [k.value for k in shown.keys[1:]]
    assert values == ["u14", "u13", "u12", "u11", "u10", "u10b", "u09", "u08", "u07"]
    assert {k.scope for k in shown.keys[1:]} == {"fn"}
    unkeyed = reads.busiest_keys(
        "app-fn",
        (ConcurrencySpec(1, None, "fn"),),
        Bounded([KeyLoad("fn:app-fn:", 1, 1, 0, False)], False),
    )
    assert [(k.value, k.scope) for k in unkeyed.keys] == [("", "fn")] and not unkeyed.keyed


def test_a_stored_config_that_no_longer_parses_has_no_spec() -> None:
    step = {"id": "step", "name": "step", "runtime": {"type": "http", "url": URL}}
    config = {"id": "app-fn", "triggers": [{"event": "e"}], "steps": {"step": step}}
    assert reads.function_spec(FunctionRecord("app-fn", "app", "fn", config)) is not None
    broken = {**config, "concurrency": [{"limit": 1, "key": "event.data.("}]}
    assert reads.function_spec(FunctionRecord("app-fn", "app", "fn", broken)) is None


NOW = 1_700_000_000_000


def state() -> FlowNow:
    load = KeyLoad("fn:app-fn:ann", 3, 3, 1001, True)
    return FlowNow(
        now=NOW,
        concurrency=ConcurrencyNow(
            [ConcurrencyKeyNow("ann", "fn:app-fn:ann", "fn", load)], 1, False, True
        ),
        throttle=GcraNow(
            "throttle",
            [GcraKeyNow("", "throttle:app-fn:", NOW + 30_000)],
            more=False,
            keyed=False,
        ),
        rate_limit=GcraNow(
            "rateLimit", [GcraKeyNow("<b>bob</b>", "rate:app-fn:<b>bob</b>", None)], False, True
        ),
        debounce=DebounceNow(
            [DebounceKeyNow("ann", "01EV", NOW - 1_000, NOW + 5_000)], 1, False, True
        ),
        batch=BatchesNow(
            [BatchNow("k", "01B", 3, 120, NOW - 2_000, NOW + 58_000)], 10, False, True
        ),
        singleton=SingletonNow(
            "skip", [SingletonKeyNow("ann", "01RUN", RunStatus.RUNNING)], False, True
        ),
    )


def test_the_section_renders_each_option_with_stable_test_ids() -> None:
    html = render.fragment("_flow_now.html", flow=state())
    assert by_testid(html, "flow-state")
    [key] = by_testid(html, "flow-concurrency-key", key="ann")
    assert (key["data-in-flight"], key["data-waiting"], key["data-limit"]) == ("3", "1001", "3")
    assert key["data-waiting-capped"] == "true" and "1001+" in html
    assert by_testid(html, "flow-throttle", kind="throttle", key="", admitted=str(NOW + 30_000))
    assert by_testid(html, "flow-throttle", kind="rateLimit", admitted="now")
    assert "<b>bob</b>" not in html and "&lt;b&gt;bob&lt;/b&gt;" in html  # keys are data
    assert by_testid(html, "flow-debounce", count="1", next_key="ann", next_due=str(NOW + 5_000))
    assert by_testid(html, "flow-batch", key="k", size="3")
    assert by_testid(html, "flow-singleton", key="ann", run_id="01RUN")
    assert 'href="/runs/01RUN"' in html and 'href="/events/01EV"' in html


def test_only_the_options_a_function_has_are_shown() -> None:
    only = FlowNow(NOW, ConcurrencyNow([], 0, False, False), None, None, None, None, None)
    html = render.fragment("_flow_now.html", flow=only)
    assert by_testid(html, "flow-concurrency-idle")
    for testid in ("flow-throttle", "flow-debounce", "flow-batch", "flow-singleton"):
        assert not by_testid(html, testid)
    assert "Throttle" not in html and "Debounce" not in html and "Singleton" not in html
