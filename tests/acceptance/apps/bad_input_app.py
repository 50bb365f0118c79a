"""A one-function Outlast app for the bad-input acceptance tests (see test_bad_input.py).

Dev or cloud mode comes from the environment (``OUTLAST_DEV``, or ``OUTLAST_BASE_URL`` with
``OUTLAST_SIGNING_KEY`` and ``OUTLAST_EVENT_KEY``), so one module serves both servers.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

import outlast

client = outlast.Client("bad-input-app")


@client.function(id="greet", trigger=outlast.TriggerEvent(event="bad-input/greet"), retries=0)
async def greet(ctx: outlast.Context) -> dict[str, Any]:
    name = await ctx.step.run("name", lambda: str(ctx.event.data.get("who", "nobody")))
    return {"greeting": f"hello {name}"}


app = Starlette(
    routes=[
        Route("/api/outlast", outlast.asgi.serve(client, [greet]), methods=["GET", "POST", "PUT"])
    ]
)
