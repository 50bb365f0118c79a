"""Server-side validation of synced function configs, and the parsed FunctionSpec."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.engine.config import ConfigProblem, build_spec, validate_function
from outlast.engine.expressions import compile_expression
from outlast.protocol.registration import FunctionConfig

URL = "http://app.test/api/inngest?fnId=shop-charge&stepId=step"


def config(**extra: Any) -> FunctionConfig:
    body: dict[str, Any] = {
        "id": "shop-charge",
        "name": "Charge",
        "triggers": [{"event": "shop/order.created"}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": URL},
                "retries": {"attempts": 3},
            }
        },
    }
    body.update(extra)
    return FunctionConfig.model_validate(body)


def full_config() -> FunctionConfig:
    return config(
        triggers=[
            {"event": "shop/order.created", "expression": "event.data.total > 10"},
            {"event": "shop/order.retried"},
            {"cron": "TZ=Europe/Paris 0 12 * * 5", "jitter": "30s"},
        ],
        concurrency=[
            {"limit": 5, "key": "event.data.customer_id", "scope": "fn"},
            {"limit": 100, "scope": "account"},
        ],
        throttle={"limit": 10, "period": "1m", "burst": 2, "key": "event.data.customer_id"},
        rateLimit={"limit": 1, "period": "1h", "key": "event.data.customer_id"},
        cancel=[
            {"event": "shop/order.cancelled", "match": "data.order_id", "timeout": "7d"},
            {"event": "shop/order.refunded", "if": "async.data.order_id == event.data.order_id"},
        ],
        timeouts={"start": "10m", "finish": "1h"},
        idempotency="event.data.order_id",
        priority={"run": "event.data.vip ? 120 : 0"},
        singleton={"key": "event.data.customer_id", "mode": "skip"},
    )


def problem(fn: FunctionConfig) -> ConfigProblem:
    with pytest.raises(ConfigProblem) as info:
        validate_function(fn)
    assert "'shop-charge'" in str(info.value)
    assert info.value.function_id == "shop-charge"
    return info.value


def test_full_config_is_accepted_and_parsed() -> None:
    spec = build_spec("shop", full_config())
    assert (spec.id, spec.name, spec.app_id, spec.url, spec.retries) == (
        "shop-charge",
        "Charge",
        "shop",
        URL,
        3,
    )
    assert [t.event for t in spec.event_triggers] == ["shop/order.created", "shop/order.retried"]
    assert spec.event_triggers[0].expression == compile_expression("event.data.total > 10")
    assert spec.event_triggers[1].expression is None
    (cron,) = spec.crons
    assert cron.source == "TZ=Europe/Paris 0 12 * * 5"
    assert cron.jitter_ms == 30_000
    assert cron.schedule.zone.key == "Europe/Paris"
    first, second = spec.cancels
    assert first.event == "shop/order.cancelled"
    assert first.expression == "event.data.order_id == async.data.order_id"
    assert first.timeout_ms == 7 * 86_400_000
    assert second.expression == "async.data.order_id == event.data.order_id"
    assert second.timeout_ms is None
    assert (spec.start_timeout_ms, spec.finish_timeout_ms) == (600_000, 3_600_000)
    assert spec.config["rate_limit"] == {
        "limit": 1,
        "period": "1h",
        "key": "event.data.customer_id",
    }


def test_minimal_config_gets_defaults() -> None:
    fn = FunctionConfig.model_validate(
        {
            "id": "shop-ping",
            "triggers": [{"event": "ping", "expression": None}],
            "steps": {"step": {"id": "step", "name": "step", "runtime": {"url": URL}}},
        }
    )
    spec = build_spec("shop", fn)
    assert spec.name == "shop-ping"
    assert spec.retries == 4
    assert spec.crons == () and spec.cancels == ()
    assert spec.start_timeout_ms is None and spec.finish_timeout_ms is None


def test_cancel_with_match_and_if_requires_both() -> None:
    fn = config(cancel=[{"event": "x", "match": "data.id", "if": "async.data.force"}])
    (rule,) = build_spec("shop", fn).cancels
    assert rule.expression == "(event.data.id == async.data.id) && (async.data.force)"
    matched = {"event": {"data": {"id": 1}}, "async": {"data": {"id": 1, "force": True}}}
    assert rule.expression is not None
    assert compile_expression(rule.expression).matches(matched)


def test_batch_config_is_accepted() -> None:
    fn = config(batchEvents={"maxSize": 100, "timeout": "5s", "key": "event.data.k", "if": "true"})
    validate_function(fn)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"triggers": [{"event": f"e{i}"} for i in range(11)]}, "triggers"),
        ({"triggers": [{"event": "  "}]}, "triggers[0].event"),
        ({"triggers": [{"event": "e", "expression": "event.data."}]}, "triggers[0].expression"),
        ({"triggers": [{"event": "e"}, {"cron": "61 * * * *"}]}, "triggers[1].cron"),
        ({"triggers": [{"cron": "TZ=Nowhere/Town 0 * * * *"}]}, "triggers[0].cron"),
        ({"triggers": [{"cron": "0 * * * *", "jitter": "later"}]}, "triggers[0].jitter"),
        ({"cancel": [{"event": f"e{i}"} for i in range(6)]}, "cancel"),
        ({"cancel": [{"event": "e", "if": "async.data.id =="}]}, "cancel[0].if"),
        ({"cancel": [{"event": "e", "match": "data.id."}]}, "cancel[0].match"),
        ({"cancel": [{"event": "e", "timeout": "400d"}]}, "cancel[0].timeout"),
        ({"cancel": [{"event": "e", "timeout": "soon"}]}, "cancel[0].timeout"),
        ({"concurrency": -1}, "concurrency"),
        ({"concurrency": [{"limit": 1}, {"limit": 2}, {"limit": 3}]}, "concurrency"),
        ({"concurrency": [{"limit": 1, "key": "event.data.("}]}, "concurrency[0].key"),
        ({"throttle": {"limit": 1, "period": "500ms"}}, "throttle.period"),
        ({"throttle": {"limit": 1, "period": "8d"}}, "throttle.period"),
        ({"throttle": {"limit": 1, "period": "1m", "key": "}"}}, "throttle.key"),
        ({"rateLimit": {"limit": 1, "period": "25h"}}, "rateLimit.period"),
        ({"rateLimit": {"limit": 1, "period": "0s"}}, "rateLimit.period"),
        ({"rateLimit": {"limit": 1, "period": "1h", "key": "a b"}}, "rateLimit.key"),
        ({"debounce": {"period": "8d"}}, "debounce.period"),
        ({"debounce": {"period": "10s", "timeout": "5s"}}, "debounce.timeout"),
        ({"debounce": {"period": "10s", "key": "'"}}, "debounce.key"),
        ({"batchEvents": {"maxSize": 10, "timeout": "2h"}}, "batchEvents.timeout"),
        ({"batchEvents": {"maxSize": 10, "timeout": "0s"}}, "batchEvents.timeout"),
        ({"batchEvents": {"maxSize": 10, "timeout": "5s", "key": "+"}}, "batchEvents.key"),
        ({"batchEvents": {"maxSize": 10, "timeout": "5s", "if": "=="}}, "batchEvents.if"),
        ({"priority": {"run": "event.data.vip ?"}}, "priority.run"),
        ({"singleton": {"key": "event.", "mode": "cancel"}}, "singleton.key"),
        ({"idempotency": "event.data.id +"}, "idempotency"),
        ({"timeouts": {"start": "whenever"}}, "timeouts.start"),
        ({"timeouts": {"finish": "0s"}}, "timeouts.finish"),
    ],
)
def test_each_rule_names_the_field(extra: dict[str, Any], field: str) -> None:
    found = problem(config(**extra))
    assert found.field == field
    assert f": {field}: " in str(found)


@pytest.mark.parametrize(
    ("extra", "other"),
    [
        ({"cancel": [{"event": "x"}]}, "cancel"),
        ({"debounce": {"period": "10s"}}, "debounce"),
        ({"singleton": {"mode": "skip"}}, "singleton"),
        ({"priority": {"run": "0"}}, "priority"),
    ],
)
def test_batch_events_refuses_incompatible_features(extra: dict[str, Any], other: str) -> None:
    fn = config(batchEvents={"maxSize": 10, "timeout": "5s"}, **extra)
    found = problem(fn)
    assert found.field == "batchEvents"
    assert f"cannot be combined with {other}" in str(found)


def test_bounds_are_inclusive() -> None:
    validate_function(
        config(
            throttle={"limit": 1, "period": "7d"},
            rateLimit={"limit": 1, "period": "24h"},
            debounce={"period": "1s", "timeout": "7d"},
            cancel=[{"event": "e", "timeout": "366d"}],
        )
    )
    validate_function(config(batchEvents={"maxSize": 1, "timeout": "1h"}))


def test_concurrency_as_a_number() -> None:
    validate_function(config(concurrency=0))
    validate_function(config(concurrency=10))
    validate_function(config(concurrency={"limit": 2, "key": "event.data.id"}))


def test_empty_expressions_mean_not_set() -> None:
    spec = build_spec("shop", config(triggers=[{"event": "e", "expression": ""}]))
    assert spec.event_triggers[0].expression is None


def test_build_spec_validates_first() -> None:
    with pytest.raises(ConfigProblem, match="idempotency"):
        build_spec("shop", config(idempotency="("))
