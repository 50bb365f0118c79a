"""Serve functions as an ASGI app (Starlette, FastAPI, or any ASGI server)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from outlast.sdk.client import Client
from outlast.sdk.function import Function
from outlast.sdk.serve.core import HttpRequest, ServeHandler

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class OutlastASGI:
    """An ASGI app serving a client's functions at whatever path it is mounted on."""

    def __init__(self, client: Client, functions: Sequence[Function]) -> None:
        self.handler = ServeHandler(client, functions, framework="asgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"outlast cannot serve {scope['type']!r} connections")
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                break
        request = HttpRequest(
            method=scope["method"],
            url=_url(scope),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=bytes(body),
        )
        response = await self.handler.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
                ]
                + [(b"content-length", str(len(response.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _url(scope: Scope) -> str:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    host = headers.get("host")
    if not host:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    root = scope.get("root_path", "")
    path = scope.get("path", "/")
    # Starlette >= 0.33 keeps the mount prefix in path; older versions strip it.
    if root and not path.startswith(root):
        path = root.rstrip("/") + path
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def serve(client: Client, functions: Sequence[Function]) -> OutlastASGI:
    """An ASGI app for ``functions``.

    ``app.mount("/api/outlast", outlast.asgi.serve(client, functions))`` serves it
    at ``/api/outlast/`` (Starlette redirects the bare prefix to the slashed one);
    ``Route("/api/outlast", outlast.asgi.serve(...), methods=["GET", "POST", "PUT"])``
    serves the exact path. The URL synced to the server is the one the sync came in on.
    """
    return OutlastASGI(client, functions)
