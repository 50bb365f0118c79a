"""The execution request body: state inline up to 4 MB, fetched through the API above."""

from __future__ import annotations

import dataclasses
from typing import Any

from outlast.domain import QueueItem, QueueKind, RunRecord, RunStatus
from outlast.engine.caller import Caller
from outlast.engine.config import build_spec
from outlast.engine.executor import request_body
from outlast.protocol import jsonutil
from outlast.protocol.ops import MAX_REQUEST_STATE_BYTES, ServerKind
from outlast.protocol.registration import FunctionConfig

SPEC = build_spec(
    "app",
    FunctionConfig.model_validate(
        {
            "id": "app-fn",
            "name": "fn",
            "triggers": [{"event": "go"}],
            "steps": {
                "step": {
                    "id": "step",
                    "name": "step",
                    "runtime": {"type": "http", "url": "http://127.0.0.1:1/api"},
                    "retries": {"attempts": 2},
                }
            },
        }
    ),
)
EVENT = {"name": "go", "data": {"n": 1}, "id": "e1", "ts": 1_700_000_000_000, "user": {}}
ITEM = QueueItem(
    id=1, run_id="01RUN", kind=QueueKind.DISCOVER, step=None, payload=None, attempt=0, due_at=0
)


def run(stack: list[str]) -> RunRecord:
    return RunRecord(
        id="01RUN",
        function_id="app-fn",
        status=RunStatus.RUNNING,
        events=[EVENT],
        event_id="01EVENT",
        queued_at=1,
        stack=stack,
    )


def sent(body: dict[str, Any], signed: bool) -> Any:
    """The body as the caller puts it on the wire (canonical JSON when signed)."""
    caller = Caller(signing_key="ab" * 32 if signed else None, server_kind=ServerKind.DEV)
    return jsonutil.loads(caller.encode(body))


def test_small_state_goes_inline_signed_or_not() -> None:
    memos = {"h1": {"data": "x" * 1000}, "h2": {"error": {"name": "E", "message": "m"}}}
    body = request_body(run(["h1", "h2"]), SPEC, memos, ITEM, "step")
    for signed in (False, True):
        wire = sent(body, signed)
        assert wire["events"] == [EVENT] and wire["event"] == EVENT
        assert wire["steps"] == memos
        assert wire["use_api"] is False and wire["ctx"]["use_api"] is False
        assert wire["ctx"]["stack"] == {"stack": ["h1", "h2"], "current": 2}
        assert wire["ctx"]["max_attempts"] == 3


def test_state_over_4_mb_is_left_for_the_sdk_to_fetch() -> None:
    # Three memos of 1.5 MB: each fits, together they do not.
    chunk = 1_500_000
    memos = {f"h{i}": {"data": "y" * chunk} for i in range(3)}
    assert 3 * chunk > MAX_REQUEST_STATE_BYTES
    body = request_body(run(list(memos)), SPEC, memos, ITEM, "step")
    wire = sent(body, signed=False)
    assert wire["events"] == [] and wire["steps"] == {}
    assert wire["use_api"] is True and wire["ctx"]["use_api"] is True
    # What the SDKs still need: the run id to fetch with, the trigger event, the stack.
    assert wire["ctx"]["run_id"] == "01RUN" and wire["event"] == EVENT
    assert wire["ctx"]["stack"]["stack"] == ["h0", "h1", "h2"]
    assert len(jsonutil.dumps(body)) < 10_000


def test_the_limit_counts_events_and_memos_together() -> None:
    half = MAX_REQUEST_STATE_BYTES // 2
    memos = {"h": {"data": "z" * half}}
    alone = request_body(run(["h"]), SPEC, memos, ITEM, "step")
    assert sent(alone, signed=False)["use_api"] is False
    # The same memos beside a large event (a batch, say) are too much for one request.
    big_event = {**EVENT, "data": {"blob": "e" * half}}
    heavy = dataclasses.replace(run(["h"]), events=[big_event])
    assert sent(request_body(heavy, SPEC, memos, ITEM, "step"), signed=False)["use_api"] is True
