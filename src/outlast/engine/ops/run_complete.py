"""``RunComplete`` (the JS SDK v4): the function returned; its output is the op's data."""

from __future__ import annotations

from outlast.engine.ops.base import Call, Outcome
from outlast.protocol.op import Op


async def handle(call: Call, op: Op) -> Outcome:
    await call.s.delete_item(call.item.id)
    await call.life.complete(call.s, call.run, op.output, call.now)
    return Outcome.ENDED
