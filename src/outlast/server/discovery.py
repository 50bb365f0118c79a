"""Dev-mode discovery: sync the apps given with ``-u`` at start, and again every
``--poll-interval`` seconds, by sending each a ``PUT`` as the Inngest dev server does."""

from __future__ import annotations

import asyncio
import logging

import httpx

from outlast.protocol import jsonutil, signing
from outlast.protocol.ops import Header
from outlast.server.settings import ServerSettings

log = logging.getLogger(__name__)

#: Until an app first answers, try again this often.
RETRY_S = 1.0


async def sync_url(client: httpx.AsyncClient, url: str, settings: ServerSettings) -> str | None:
    """PUT to an app so it syncs itself; None on success, else what went wrong."""
    body = jsonutil.dumps({"url": url})
    headers = {"content-type": "application/json", Header.SERVER_KIND: settings.kind.value}
    if settings.signing_key:
        headers[Header.SIGNATURE] = signing.sign(body, settings.signing_key)
    try:
        resp = await client.put(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"cannot reach {url}: {exc!r}"
    if resp.status_code >= 300:
        return f"{url} answered HTTP {resp.status_code}: {resp.text[:500]}"
    return None


class Discovery:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.settings.sdk_urls:
            self._task = asyncio.create_task(self._run(), name="outlast-discovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        pending = list(self.settings.sdk_urls)
        async with httpx.AsyncClient(timeout=30.0) as client:
            while True:
                failed = []
                for url in pending:
                    problem = await sync_url(client, url, self.settings)
                    if problem is None:
                        log.info("synced app", extra={"url": url})
                    else:
                        log.warning("app sync failed", extra={"url": url, "problem": problem})
                        failed.append(url)
                if failed:
                    pending = failed
                    await asyncio.sleep(RETRY_S)
                elif self.settings.poll_interval_s > 0:
                    pending = list(self.settings.sdk_urls)
                    await asyncio.sleep(self.settings.poll_interval_s)
                else:
                    return
