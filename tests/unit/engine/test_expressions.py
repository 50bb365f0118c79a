"""CEL expressions as trigger filters, wait/cancel conditions and flow-control keys."""

from __future__ import annotations

import pytest

from outlast.engine.expressions import (
    EMPTY_KEY,
    ExpressionError,
    compile_expression,
    evaluate_key,
    match_to_expression,
)


def _event(**data: object) -> dict[str, object]:
    return {
        "name": "app/user.created",
        "id": "01H",
        "ts": 1_700_000_000_000,
        "data": data,
        "v": "1",
    }


def test_valid_expression_evaluates_over_event() -> None:
    expr = compile_expression("event.data.plan == 'pro' && event.ts > 0")
    assert expr.evaluate({"event": _event(plan="pro")}) is True
    assert expr.matches({"event": _event(plan="pro")})
    assert not expr.matches({"event": _event(plan="free")})


@pytest.mark.parametrize("src", ["1 +", "event.data.", "'unterminated", "a b", "", "   "])
def test_invalid_expression_is_refused_with_the_source_in_the_message(src: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(src)
    assert isinstance(info.value, ValueError)
    assert "expression" in str(info.value)
    if src.strip():
        assert repr(src) in str(info.value)


def test_each_source_compiles_once() -> None:
    src = "event.data.cache_probe == 1"
    assert compile_expression(src) is compile_expression(src)


def test_missing_field_does_not_match_and_evaluate_raises() -> None:
    expr = compile_expression("event.data.user.id == 'u1'")
    variables = {"event": _event()}
    assert expr.matches(variables) is False
    with pytest.raises(ExpressionError, match="no such key 'user'"):
        expr.evaluate(variables)


def test_missing_variable_does_not_match() -> None:
    expr = compile_expression("async.data.id == event.data.id")
    assert expr.matches({"event": _event(id=1)}) is False


def test_has_guards_a_missing_field() -> None:
    expr = compile_expression("!has(event.data.user) || event.data.user == 'x'")
    assert expr.matches({"event": _event()})


def test_only_boolean_true_matches() -> None:
    assert not compile_expression("1").matches({})
    assert not compile_expression("'true'").matches({})
    assert compile_expression("true").matches({})


@pytest.mark.parametrize(("n", "expected"), [(2, True), (2.5, True), (1, False), (0.5, False)])
def test_numbers_compare_across_int_and_double(n: object, expected: bool) -> None:
    assert compile_expression("event.data.n > 1").matches({"event": _event(n=n)}) is expected


def test_int_and_double_are_equal_when_the_value_is_the_same() -> None:
    assert compile_expression("event.data.n == 2").matches({"event": _event(n=2.0)})
    assert compile_expression("event.data.n == 2.0").matches({"event": _event(n=2)})


def test_mixed_arithmetic_is_a_runtime_error_not_a_crash() -> None:
    expr = compile_expression("event.data.n + 1 > 2")
    assert expr.matches({"event": _event(n=2)})
    assert expr.matches({"event": _event(n=2.5)}) is False
    assert compile_expression("double(event.data.n) + 1.0 > 2.0").matches({"event": _event(n=2.5)})


def test_null_field_compares_to_null() -> None:
    assert compile_expression("event.data.x == null").matches({"event": _event(x=None)})


def test_wait_condition_compares_event_and_async() -> None:
    expr = compile_expression(match_to_expression("data.userId"))
    original = _event(userId="u1")
    assert expr.matches({"event": original, "async": _event(userId="u1")})
    assert not expr.matches({"event": original, "async": _event(userId="u2")})
    assert not expr.matches({"event": original, "async": _event()})


@pytest.mark.parametrize("match", ["data.userId", "event.data.userId", "  data.userId  "])
def test_match_shorthand(match: str) -> None:
    assert match_to_expression(match) == "event.data.userId == async.data.userId"


def test_empty_match_is_refused() -> None:
    with pytest.raises(ExpressionError):
        match_to_expression("event.")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"user_id": "u1"}, "u1"),
        ({"user_id": 42}, "42"),
        ({"user_id": 42.0}, "42"),
        ({"user_id": 1.5}, "1.5"),
        ({"user_id": True}, "true"),
        ({"user_id": {"b": 1, "a": [1, "x"]}}, '{"a":[1,"x"],"b":1}'),
        ({"user_id": None}, EMPTY_KEY),
        ({}, EMPTY_KEY),
    ],
)
def test_key_is_a_stable_string(data: dict[str, object], key: str) -> None:
    assert evaluate_key("event.data.user_id", _event(**data)) == key


def test_key_can_combine_fields() -> None:
    src = "event.data.org + ':' + event.data.user"
    assert evaluate_key(src, _event(org="o1", user="u1")) == "o1:u1"


def test_key_with_invalid_cel_is_refused() -> None:
    with pytest.raises(ExpressionError):
        evaluate_key("event.data.", _event())
