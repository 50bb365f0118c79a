"""When the database fails under a request (unreachable, restarting, its disk full), the
client gets 503 (507 for a full disk) with ``Retry-After``, not a 500 with a traceback:
the SDKs retry their sends on 5xx, and the log says what happened once per interval
instead of once per request."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outlast.server.responses import error
from outlast.store import Store
from outlast.store.failures import FailureLog, StoreFailure

log = logging.getLogger(__name__)

#: What the client is told, and when to try again (seconds).
ANSWERS = {
    StoreFailure.UNAVAILABLE: (503, "the database is unavailable; try again shortly", 1),
    StoreFailure.FULL: (507, "the database's disk is full; nothing can be saved", 30),
}


class StoreErrors:
    """ASGI middleware: a request that failed because the store did answers 503 / 507."""

    def __init__(self, app: ASGIApp, store: Store, failures: FailureLog | None = None) -> None:
        self.app = app
        self.store = store
        self.failures = failures or FailureLog(log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            kind = self.store.failure(exc)
            if kind is None or started:
                raise
            status, message, retry_s = ANSWERS[kind]
            self.failures.log(f"store {kind.value}", f"{scope['method']} {scope['path']}", exc)
            response = error(message, status)
            response.headers["retry-after"] = str(retry_s)
            await response(scope, receive, send)
