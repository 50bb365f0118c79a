"""Validation of function options at decoration time, and step id hashing."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest

import outlast
from outlast.protocol.ids import StepIdCounter


async def handler(ctx: outlast.Context) -> None:
    return None


def make(client: outlast.Client, **kwargs: Any) -> outlast.Function:
    kwargs.setdefault("id", "fn")
    kwargs.setdefault("trigger", "e")
    return client.function(**kwargs)(handler)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": ""}, "function id"),
        ({"name": " "}, "name"),
        ({"retries": -1}, "retries"),
        ({"retries": 21}, "retries"),
        ({"trigger": [f"e{i}" for i in range(11)]}, "at most 10 triggers"),
        ({"trigger": [42]}, "trigger"),
        ({"cancel": [outlast.Cancel(f"c{i}") for i in range(6)]}, "cancel"),
        ({"concurrency": [outlast.Concurrency(1)] * 3}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        (
            {"batch_events": outlast.Batch(10, "1s"), "cancel": outlast.Cancel("c")},
            "batch_events cannot be combined with cancel",
        ),
        (
            {"batch_events": outlast.Batch(10, "1s"), "debounce": outlast.Debounce("1s")},
            "debounce",
        ),
        (
            {"batch_events": outlast.Batch(10, "1s"), "singleton": outlast.Singleton("skip")},
            "singleton",
        ),
        (
            {"batch_events": outlast.Batch(10, "1s"), "priority": outlast.Priority("1")},
            "priority",
        ),
        ({"throttle": outlast.RateLimit(1, "1s")}, "throttle must be a Throttle"),
    ],
)
def test_invalid_options(client: outlast.Client, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(outlast.ConfigError, match=message):
        make(client, **kwargs)


@pytest.mark.parametrize(
    "build",
    [
        lambda: outlast.Throttle(0, "1s"),
        lambda: outlast.Throttle(1, 0),
        lambda: outlast.RateLimit(1, "-1s"),
        lambda: outlast.RateLimit(1, "soon"),
        lambda: outlast.Debounce(timedelta(0)),
        lambda: outlast.Batch(0, "1s"),
        lambda: outlast.Timeouts(start="0s"),
        lambda: outlast.Singleton("sometimes"),  # type: ignore[arg-type]
        lambda: outlast.Concurrency(1, scope="galaxy"),  # type: ignore[arg-type]
        lambda: outlast.TriggerEvent(""),
        lambda: outlast.TriggerCron(""),
        lambda: outlast.Cancel("", timeout="1h"),
        lambda: outlast.Priority(""),
    ],
)
def test_invalid_option_values(build: Any) -> None:
    with pytest.raises(outlast.ConfigError):
        build()


def test_config_error_is_a_value_error() -> None:
    assert issubclass(outlast.ConfigError, ValueError)


def test_durations_in_every_form(client: outlast.Client) -> None:
    fn = make(
        client,
        debounce=outlast.Debounce(timedelta(minutes=90)),
        timeouts=outlast.Timeouts(start=2_000, finish="1h30m"),
    )
    (cfg,) = fn.configs("http://x/api")
    assert cfg["debounce"] == {"period": "1h30m"}
    assert cfg["timeouts"] == {"start": "2s", "finish": "1h30m"}


def test_function_metadata_and_call(client: outlast.Client) -> None:
    @client.function(id="greet", trigger=outlast.TriggerCron("* * * * *"), retries=0)
    def greet(ctx: Any) -> str:
        return f"hi {ctx}"

    assert isinstance(greet, outlast.Function)
    assert greet.full_id == "app-greet" and greet.name == "greet" and greet.retries == 0
    assert greet("bob") == "hi bob"
    (cfg,) = greet.configs("http://x/api")
    assert cfg["triggers"] == [{"cron": "* * * * *"}]
    assert cfg["steps"]["step"]["retries"] == {"attempts": 0}


def test_a_function_with_no_trigger_is_only_invoked(client: outlast.Client) -> None:
    @client.function(id="helper", trigger=[])
    async def helper(ctx: Any) -> None:
        return None

    (cfg,) = helper.configs("http://x/api")
    assert cfg["triggers"] == []


def test_step_id_hashing_and_repeats() -> None:
    counter = StepIdCounter()
    assert counter.next("a") == ("a", hashlib.sha1(b"a").hexdigest())
    assert counter.next("a") == ("a:1", hashlib.sha1(b"a:1").hexdigest())
    assert counter.next("b") == ("b", hashlib.sha1(b"b").hexdigest())
    assert counter.next("a") == ("a:2", hashlib.sha1(b"a:2").hexdigest())


def test_public_api_exports() -> None:
    for name in outlast.__all__:
        assert hasattr(outlast, name), name
    assert outlast.asgi.serve is not None


def test_sdk_never_imports_engine_store_or_server() -> None:
    import ast
    import pathlib

    root = pathlib.Path(outlast.__file__).parent
    files = [
        *(root / "sdk").rglob("*.py"),
        *(root / n for n in ("asgi.py", "flask.py", "django.py")),
    ]
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("outlast.engine", "outlast.store", "outlast.server")), (
                    f"{path} imports {name}"
                )
