"""An op Outlast does not carry out. Ignoring it would leave the run waiting forever: the
run fails, saying which op."""

from __future__ import annotations

import logging

from outlast.domain import RunStatus
from outlast.engine import errors
from outlast.engine.ops.base import Call, Outcome
from outlast.protocol.op import Op

log = logging.getLogger(__name__)


async def handle(call: Call, op: Op) -> Outcome:
    log.warning("unsupported op", extra={"op": op.op, "run_id": call.run.id})
    await call.s.delete_item(call.item.id)
    err = errors.unknown_opcode(op.op)
    await call.life.finish(call.s, call.run, RunStatus.FAILED, call.now, error=err)
    return Outcome.ENDED
