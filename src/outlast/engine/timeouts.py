"""Function timeouts (``timeouts.start`` / ``timeouts.finish``) as durable queue timers.

A run gets a ``start`` timer when it is created and a ``finish`` timer when the app first
answers for it. When a timer fires (``engine.timers.timeout``) and the run is still not
started (``start``) or not finished (``finish``), the run is cancelled, which emits
``inngest/function.cancelled``. A step running at that moment finishes, but its result is
discarded.
"""

from __future__ import annotations

from typing import Literal

from outlast.domain import QueueKind, RunRecord
from outlast.engine.config import FunctionSpec
from outlast.engine.payloads import TimeoutPayload
from outlast.store import NewItem


def start_timer(run: RunRecord, spec: FunctionSpec | None, now: int) -> NewItem | None:
    if spec is None or not spec.start_timeout_ms:
        return None
    return _timer(run.id, "start", now + spec.start_timeout_ms, spec.start_timeout_ms)


def finish_timer(run_id: str, spec: FunctionSpec, started_at: int) -> NewItem | None:
    if not spec.finish_timeout_ms:
        return None
    return _timer(run_id, "finish", started_at + spec.finish_timeout_ms, spec.finish_timeout_ms)


def _timer(run_id: str, which: Literal["start", "finish"], due: int, limit_ms: int) -> NewItem:
    return NewItem(
        QueueKind.TIMEOUT,
        run_id,
        due,
        payload=TimeoutPayload(which, limit_ms).encode(),
        dedupe_key=f"timeout-{which}:{run_id}",
    )
