"""Helpers to drive the SDK's serve endpoint the way the server does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

import outlast
from outlast.protocol import ids, jsonutil
from outlast.sdk.serve.core import HttpRequest, ServeHandler

SERVE_URL = "http://app.test/api/outlast"

_ENV_NAMES = [
    "EVENT_KEY",
    "SIGNING_KEY",
    "SIGNING_KEY_FALLBACK",
    "BASE_URL",
    "EVENT_API_BASE_URL",
    "API_BASE_URL",
    "DEV",
    "SERVE_ORIGIN",
    "SERVE_PATH",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests must not see the developer's OUTLAST_* / INNGEST_* variables."""
    for name in _ENV_NAMES:
        monkeypatch.delenv(f"OUTLAST_{name}", raising=False)
        monkeypatch.delenv(f"INNGEST_{name}", raising=False)
    yield


def h(step_id: str) -> str:
    """The memo key of a user step id."""
    return ids.hash_step_id(step_id)


@dataclass
class Result:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ops(self) -> list[dict[str, Any]]:
        assert self.status == 206, (self.status, self.body)
        assert isinstance(self.body, list)
        return self.body

    @property
    def op(self) -> dict[str, Any]:
        assert len(self.ops) == 1, self.ops
        return self.ops[0]


def request_body(
    *,
    event: dict[str, Any] | None = None,
    steps: dict[str, Any] | None = None,
    attempt: int = 0,
    max_attempts: int | None = None,
    disable_immediate: bool = False,
    run_id: str = "01RUN",
    use_api: bool = False,
    qi_id: str | None = None,
) -> dict[str, Any]:
    event = event or {"name": "test/event", "data": {"x": 1}, "id": "ev1", "ts": 1700000000000}
    ctx: dict[str, Any] = {
        "run_id": run_id,
        "attempt": attempt,
        "stack": {"stack": list((steps or {}).keys()), "current": len(steps or {})},
        "disable_immediate_execution": disable_immediate,
        "use_api": use_api,
        "fn_id": "fn",
        "env": "dev",
    }
    if max_attempts is not None:
        ctx["max_attempts"] = max_attempts
    if qi_id is not None:
        ctx["qi_id"] = qi_id
    return {
        "event": event,
        "events": [event],
        "steps": steps or {},
        "ctx": ctx,
        "version": 2,
        "use_api": use_api,
    }


async def call(
    client: outlast.Client,
    functions: Sequence[outlast.Function],
    fn: outlast.Function,
    *,
    step_id: str = "step",
    headers: dict[str, str] | None = None,
    raw_body: bytes | None = None,
    **body: Any,
) -> Result:
    """POST an execution request for ``fn`` to a ServeHandler."""
    handler = ServeHandler(client, functions, framework="test")
    content = raw_body if raw_body is not None else jsonutil.dumps(request_body(**body))
    response = await handler.handle(
        HttpRequest(
            method="POST",
            url=f"{SERVE_URL}?fnId={fn.full_id}&stepId={step_id}",
            headers=headers or {"content-type": "application/json"},
            body=content,
        )
    )
    return Result(response.status, response.headers, jsonutil.loads(response.body))


@pytest.fixture
def client() -> outlast.Client:
    return outlast.Client("app", dev=True)
