"""Ops an app answers with, one module each, in one table: ``opcode -> handler``.

Adding an op: a module with a ``handle(call, op) -> Outcome`` function, an entry here,
its tests. An op this table does not name fails the run (``unsupported``).
"""

from __future__ import annotations

from outlast.engine.ops import (
    ai_gateway,
    invoke,
    run_complete,
    sleep,
    step_error,
    step_planned,
    step_run,
    unsupported,
    wait_for_event,
)
from outlast.engine.ops.base import Call, OpHandler, Outcome
from outlast.protocol.ops import Opcode

HANDLERS: dict[str, OpHandler] = {
    Opcode.STEP_RUN: step_run.handle,
    Opcode.STEP: step_run.handle,
    Opcode.STEP_ERROR: step_error.handle,
    Opcode.STEP_FAILED: step_error.handle,
    Opcode.STEP_PLANNED: step_planned.handle,
    Opcode.SLEEP: sleep.handle,
    Opcode.WAIT_FOR_EVENT: wait_for_event.handle,
    Opcode.INVOKE: invoke.handle,
    Opcode.RUN_COMPLETE: run_complete.handle,
    Opcode.AI_GATEWAY: ai_gateway.handle,
}


def handler(opcode: str) -> OpHandler:
    """The handler of an op code (``unsupported`` for one Outlast does not carry out)."""
    return HANDLERS.get(opcode, unsupported.handle)


__all__ = ["HANDLERS", "Call", "OpHandler", "Outcome", "handler"]
