"""An Outlast SDK app whose run state outgrows one request: three steps of ~1.6 MB each
(4.8 MB together, over the 4 MB the server sends inline)."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

import outlast
from tests.acceptance.apps.state_probe import StateProbe, note

# Without checkpointing, each step is a call of its own, so the last call's state (every
# step's output) is over the limit; with it, the three steps would run in one call.
client = outlast.Client("large-state", checkpointing=False)

PART_CHARS = 1_600_000


def part(ctx: outlast.Context, index: int) -> Any:
    def body() -> str:
        note(f"step {ctx.run_id} part-{index}")
        return chr(ord("a") + index) * PART_CHARS

    return body


@client.function(id="big-parts", trigger=outlast.TriggerEvent(event="test/big-parts"))
async def big_parts(ctx: outlast.Context) -> dict[str, Any]:
    parts = [await ctx.step.run(f"part-{i}", part(ctx, i)) for i in range(3)]
    joined = "".join(parts).encode()
    return {
        "lengths": [len(p) for p in parts],
        "sha256": hashlib.sha256(joined).hexdigest(),
        "label": ctx.event.data["label"],
    }


app = StateProbe(
    Starlette(
        routes=[
            Route(
                "/api/outlast",
                outlast.asgi.serve(client, [big_parts]),
                methods=["GET", "POST", "PUT"],
            )
        ]
    )
)
