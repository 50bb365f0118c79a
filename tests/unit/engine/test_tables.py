"""The engine's tables: every op and every timer kind has its handler, and each queue
kind's payload survives the store's JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast.domain import CALL_KINDS, QueueItem, QueueKind
from outlast.engine import ops, payloads, timers
from outlast.engine.ops import unsupported
from outlast.protocol.ops import Opcode

#: Ops the server does not carry out yet (they fail the run, saying which).
NOT_SUPPORTED: set[Opcode] = set()


def test_every_op_code_has_a_handler() -> None:
    assert set(Opcode) - set(ops.HANDLERS) == NOT_SUPPORTED
    for code in NOT_SUPPORTED:
        assert ops.handler(code) is unsupported.handle
    assert ops.handler("SomethingNew") is unsupported.handle


def test_every_queue_kind_is_a_call_a_timer_or_a_gateway_request() -> None:
    # GATEWAY: a request the server sends for a step (the executor's ``_gateway``).
    assert set(timers.HANDLERS) | CALL_KINDS | {QueueKind.GATEWAY} == set(QueueKind)
    assert not set(timers.HANDLERS) & CALL_KINDS
    assert QueueKind.GATEWAY not in set(timers.HANDLERS) | CALL_KINDS


def item(kind: QueueKind, payload: dict[str, Any] | None) -> QueueItem:
    # Through JSON, as the store keeps it.
    stored = json.loads(json.dumps(payload)) if payload is not None else None
    return QueueItem(1, "run", kind, "step", stored, 0, 0)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (QueueKind.STEP, payloads.StepPayload(race=True)),
        (QueueKind.STEP, payloads.StepPayload()),
        (QueueKind.RESUME, payloads.ResumePayload(wait=True, memo={"error": {"name": "E"}})),
        (QueueKind.RESUME, payloads.ResumePayload()),
        (QueueKind.CRON, payloads.CronPayload("app-f", "*/5 * * * *", 1_700_000_000_000)),
        (QueueKind.TIMEOUT, payloads.TimeoutPayload("start", 60_000)),
        (QueueKind.TIMEOUT, payloads.TimeoutPayload("finish", 1)),
        (QueueKind.BATCH, payloads.BatchPayload("01BATCH")),
        (QueueKind.DEBOUNCE, payloads.DebouncePayload("app-f:k")),
    ],
)
def test_a_payload_reads_back_as_written(kind: QueueKind, payload: Any) -> None:
    assert type(payload).decode(item(kind, payload.encode())) == payload
