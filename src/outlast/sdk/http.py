"""Outgoing HTTP helpers shared by sending, syncing and fetching run state."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

from outlast.protocol import signing
from outlast.protocol.ops import Header
from outlast.sdk.config import REQUEST_VERSION, SDK_NAME

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Default timeout of requests the SDK makes to the server.
TIMEOUT_SECONDS = 30.0


def sdk_headers(*, framework: str | None = None, server_kind: str | None = None) -> dict[str, str]:
    """Headers on every request and response the SDK produces."""
    headers = {
        "content-type": "application/json",
        Header.SDK: SDK_NAME,
        Header.REQ_VERSION: REQUEST_VERSION,
        "user-agent": SDK_NAME,
    }
    if framework is not None:
        headers[Header.FRAMEWORK] = framework
    if server_kind is not None:
        headers[Header.EXPECTED_SERVER_KIND] = server_kind
    return headers


def bearer(key: str) -> str:
    """The Authorization value for a signing key: ``Bearer <sha256 of the key>``."""
    return f"Bearer {signing.strip_prefix(signing.hash_key(key))}"


async def send_with_auth(
    http: httpx.AsyncClient,
    request: httpx.Request,
    keys: list[str],
) -> httpx.Response:
    """Send ``request`` authenticated with the first key; retry with the next on 401/403."""
    if not keys:
        return await http.send(request)
    response: httpx.Response | None = None
    for i, key in enumerate(keys):
        attempt = httpx.Request(
            request.method,
            request.url,
            headers={**request.headers, Header.AUTHORIZATION: bearer(key)},
            content=request.content,
            extensions=request.extensions,
        )
        response = await http.send(attempt)
        if response.status_code not in (401, 403) or i == len(keys) - 1:
            return response
        logger.debug("request to %s refused with the signing key; trying the fallback", request.url)
    assert response is not None
    return response


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code.

    Uses a fresh event loop; when the calling thread already runs a loop, the
    coroutine runs on a short-lived helper thread instead of blocking that loop's API.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="outlast-run-sync")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
