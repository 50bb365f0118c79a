"""The large-state scenario written with the official PyPI ``inngest`` SDK, served by
FastAPI: three steps of ~1.6 MB each, over the 4 MB the server sends inline."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import fastapi
import inngest
import inngest.fast_api

from tests.acceptance.apps.state_probe import StateProbe, note

SERVER_URL = os.environ["SERVER_URL"]
PART_CHARS = 1_600_000

client = inngest.Inngest(
    app_id="large-state-py",
    is_production=False,
    api_base_url=SERVER_URL,
    event_api_base_url=SERVER_URL,
)


@client.create_function(fn_id="big-parts", trigger=inngest.TriggerEvent(event="test/big-parts"))
async def big_parts(ctx: inngest.Context) -> dict[str, Any]:
    parts: list[str] = []
    for i in range(3):

        async def make(index: int = i) -> str:
            note(f"step {ctx.run_id} part-{index}")
            return chr(ord("a") + index) * PART_CHARS

        parts.append(await ctx.step.run(f"part-{i}", make))
    joined = "".join(parts).encode()
    return {
        "lengths": [len(p) for p in parts],
        "sha256": hashlib.sha256(joined).hexdigest(),
        "label": ctx.event.data["label"],
    }


api = fastapi.FastAPI()
inngest.fast_api.serve(api, client, [big_parts])
app = StateProbe(api)
