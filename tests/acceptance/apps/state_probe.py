"""An ASGI wrapper for the large-state apps: notes, for every execution request the
server sends, the run and whether its state was left out (``use_api``), and every step
execution, as lines appended to ``$PROBE_FILE`` (an append of one short line is atomic).

It reads the request body as it streams past and hands it on untouched, so the SDK
behind it sees exactly what the server sent.
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBE_FILE = os.environ.get("PROBE_FILE", "/dev/null")


def note(line: str) -> None:
    fd = os.open(PROBE_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


class StateProbe:
    """Wraps an ASGI app; writes ``request <run_id> use_api=<bool>`` per execution call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def sniff() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._record(b"".join(chunks))
            return message

        await self.app(scope, sniff, send)

    @staticmethod
    def _record(raw: bytes) -> None:
        try:
            body: Any = json.loads(raw)
        except ValueError:
            return
        if isinstance(body, dict) and isinstance(body.get("ctx"), dict):
            note(f"request {body['ctx'].get('run_id')} use_api={bool(body.get('use_api'))}")
