"""Event sessions: the user's and the inherited layers merged as Inngest merges them."""

from __future__ import annotations

import pytest

from outlast.engine.events import InvalidEvent, normalise
from outlast.engine.sessions import InvalidSessions, resolve_meta


def test_no_meta_or_no_session_stores_no_meta() -> None:
    assert resolve_meta(None) is None
    assert resolve_meta({}) is None
    assert resolve_meta({"sessions": {}}) is None


def test_the_users_keys_win_and_the_rest_fill_from_the_inherited_layer_in_key_order() -> None:
    meta = {
        "sessions": {"user": "u1", "order": 42},
        "propagated_sessions": {"user": "other", "z": "9", "a": "1", "m": "5", "b": "2"},
    }
    # Five in all: the user's two, then a, b, m (z does not fit).
    assert resolve_meta(meta) == {
        "sessions": {"user": "u1", "order": "42", "a": "1", "b": "2", "m": "5"}
    }


def test_null_cuts_an_inherited_key_and_a_null_layer_cuts_them_all() -> None:
    inherited = {"a": "1", "b": "2"}
    assert resolve_meta({"sessions": {"a": None}, "propagated_sessions": inherited}) == {
        "sessions": {"b": "2"}
    }
    assert resolve_meta({"sessions": None, "propagated_sessions": inherited}) is None
    assert resolve_meta({"propagated_sessions": inherited}) == {"sessions": inherited}


@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ("x", "must be a JSON object"),
        ({"sessions": {"a": True}}, "must be a string, number, or null"),
        ({"sessions": {f"k{i}": "v" for i in range(6)}}, "at most 5"),
        ({"sessions": {"": "v"}}, "keys cannot be empty"),
        ({"sessions": {"a": ""}}, "empty ID"),
        ({"sessions": {"a": "x" * 513}}, "exceeds 512 bytes"),
        ({"propagated_sessions": [1]}, "must be a JSON object"),
    ],
)
def test_bad_sessions_are_refused_with_the_reason(meta: object, words: str) -> None:
    with pytest.raises(InvalidSessions, match=words):
        resolve_meta(meta)


def test_an_event_keeps_its_meta_as_resolved() -> None:
    raw = {"name": "a/b", "data": {}, "meta": {"sessions": {"user": "u1"}}}
    rec = normalise(raw, "01ID", 1_700_000_000_000, 1 << 20)
    assert rec.payload["meta"] == {"sessions": {"user": "u1"}}
    with pytest.raises(InvalidEvent, match="at most 5"):
        too_many = {"sessions": {str(i): "v" for i in range(6)}}
        normalise({**raw, "meta": too_many}, "01ID", 1_700_000_000_000, 1 << 20)
