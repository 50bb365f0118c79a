"""An app that answers what no SDK should (see test_misbehaving_apps.py).

Its functions are synced as usual, but a call to one named after a misbehaviour gets the
answer of that name, whatever the request; ``good`` is served by the SDK.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

import outlast

APP_ID = os.environ.get("MISBEHAVING_APP_ID", "misbehaving")
client = outlast.Client(APP_ID)
SDK = {"x-inngest-sdk": "outlast-py:v0.1.0", "content-type": "application/json"}
MB = 1024 * 1024


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


#: function id -> (status, body) of every answer.
ANSWERS: dict[str, tuple[int, bytes]] = {
    "text-200": (200, b"<html><body>Bad gateway, says a proxy</body></html>"),
    "no-id-206": (206, _json([{"op": "StepRun", "data": 1}])),
    "weird-206": (206, _json({"weird": True})),
    # Far over the answer cap: refused unread, not stored.
    "huge-200": (200, _json("x" * (40 * MB))),
    # Within the cap but over the 4 MB function-output limit.
    "big-output-200": (200, _json("x" * (5 * MB))),
    # The same finished step, again and again: no progress after the first answer.
    "same-step-206": (206, _json([{"op": "StepRun", "id": "s1", "name": "s1", "data": 1}])),
}


def _bad(fn_id: str) -> Any:
    @client.function(id=fn_id, trigger=outlast.TriggerEvent(event=f"bad/{fn_id}"), retries=1)
    async def handler(ctx: outlast.Context) -> None:
        raise AssertionError("never called: the wrapper answers")

    return handler


@client.function(id="good", trigger=outlast.TriggerEvent(event="bad/good"), retries=0)
async def good(ctx: outlast.Context) -> dict[str, Any]:
    n = await ctx.step.run("double", lambda: int(ctx.event.data.get("n", 0)) * 2)
    return {"n": n}


#: Functions whose calls are never answered.
HANGS = {"hang"}
#: Functions whose answers stop half-way: the connection closes mid-body.
CUTS = {"cut-206"}

FUNCTIONS = [good, *(_bad(fn_id) for fn_id in [*ANSWERS, *HANGS, *CUTS])]
serve = outlast.asgi.serve(client, FUNCTIONS)


#: How many times the server called each function.
CALLS: dict[str, int] = {}


class Endpoint:
    """The functions' endpoint, as a plain ASGI app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        fn_id = request.query_params.get("fnId", "").removeprefix(f"{APP_ID}-")
        if request.method == "POST":
            CALLS[fn_id] = CALLS.get(fn_id, 0) + 1
        if request.method == "POST" and fn_id in HANGS:
            await asyncio.sleep(3600)
        if request.method == "POST" and fn_id in CUTS:
            await request.body()
            headers = [(k.encode(), v.encode()) for k, v in SDK.items()]
            headers.append((b"content-length", b"100000"))
            await send({"type": "http.response.start", "status": 206, "headers": headers})
            part = {"type": "http.response.body", "body": b'[{"op": "StepRun", ', "more_body": True}
            await send(part)
            raise ConnectionAbortedError("the app dies half-way through its answer")
        if request.method == "POST" and fn_id in ANSWERS:
            await request.body()
            status, body = ANSWERS[fn_id]
            await Response(body, status_code=status, headers=SDK)(scope, receive, send)
            return
        await serve(scope, receive, send)


async def calls(request: Request) -> Response:
    return Response(_json(CALLS), media_type="application/json")


app = Starlette(
    routes=[
        Route("/api/outlast", Endpoint(), methods=["GET", "POST", "PUT"]),
        Route("/calls", calls),
    ]
)
