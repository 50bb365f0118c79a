"""Checkpointing: running several ``step.run`` steps in one call.

Without it, each step costs a round trip: the server calls the app, the handler replays
up to the new step, runs it and answers with its output, and the server calls again for
the next one. When the server sends ``ctx.qi_id`` (the call's id), the SDK can instead
save a finished step with ``POST /v1/checkpoint/{run_id}/async`` and go straight on to the
next step in the same call, as the JS SDK v4 does. The step is saved before the next one
starts, so a finished step still never runs twice.

Anything unusual ends checkpointing for the call and falls back to answering the step as
usual: a refused or failed checkpoint (an older server, a stale call), a call that has run
for :data:`MAX_CALL_SECONDS`, or steps reported together (parallel steps).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

from outlast.protocol import jsonutil

if TYPE_CHECKING:
    from outlast.sdk.client import Client

logger = logging.getLogger(__name__)

#: A call checkpoints steps for at most this long, then answers (the server's call timeout
#: is much longer; this keeps a long chain of steps from holding one HTTP call open).
MAX_CALL_SECONDS = 10.0
#: How long one checkpoint may take before the SDK gives up and answers instead.
CHECKPOINT_TIMEOUT_SECONDS = 10.0


class Checkpointer:
    """Saves the steps of one call through the checkpoint API."""

    def __init__(self, client: Client, *, run_id: str, fn_id: str | None, qi_id: str) -> None:
        self._client = client
        self._url = f"{client.settings.api_origin}/v1/checkpoint/{run_id}/async"
        self._body: dict[str, Any] = {"run_id": run_id, "fn_id": fn_id, "qi_id": qi_id}
        self._loop = asyncio.get_running_loop()
        self._deadline = time.monotonic() + MAX_CALL_SECONDS
        self._off = False

    async def save(self, op: dict[str, Any]) -> bool:
        """Save one finished step; True when the server took it (go on to the next step)."""
        if self._off or time.monotonic() > self._deadline:
            self._off = True
            return False
        body = jsonutil.dumps({**self._body, "steps": [op]})
        try:
            status, text = await asyncio.wait_for(
                self._client.post_to_api(self._url, body), CHECKPOINT_TIMEOUT_SECONDS
            )
        except (OSError, TimeoutError, aiohttp.ClientError, httpx.HTTPError) as exc:
            logger.warning("checkpoint to %s failed (%r); answering instead", self._url, exc)
            self._off = True
            return False
        if status >= 300:
            # 409: the call is no longer the run's current one; 404: a server without
            # checkpoints. Either way the answer carries the step, as without checkpoints.
            logger.debug("checkpoint refused (%s): %s", status, text[:200])
            self._off = True
            return False
        return True

    def save_blocking(self, op: dict[str, Any]) -> bool:
        """:meth:`save` from a synchronous handler's worker thread, on the serving loop."""
        if self._off:
            return False
        future = asyncio.run_coroutine_threadsafe(self.save(op), self._loop)
        return future.result()
