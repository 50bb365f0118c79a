"""Dev-mode discovery: sync the apps given with ``-u`` at start, and again every
``--poll-interval`` seconds, by sending each a ``PUT`` as the Inngest dev server does.

A URL is first asked with a ``GET``: only an answer carrying ``x-inngest-sdk`` is an SDK.
Anything else (a web page, another service on that port, a proxy's error page) is not
sent a ``PUT``, which such an endpoint might act on; it is tried again later, as an
unreachable URL is, since an app that is still starting may sit behind it.
"""

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
NOT_AN_SDK = "not an Inngest/Outlast SDK endpoint"


async def probe_url(client: httpx.AsyncClient, url: str, settings: ServerSettings) -> str | None:
    """GET ``url``: None when an SDK answers (any status), else what it is instead."""
    try:
        resp = await client.get(url, headers={Header.SERVER_KIND: settings.kind.value})
    except httpx.HTTPError as exc:
        return f"cannot reach {url}: {exc!r}"
    # An SDK sets the header on every answer, errors included (a server-kind mismatch is
    # a 403 from an SDK), so the header alone decides.
    if Header.SDK not in resp.headers:
        return (
            f"{url} is {NOT_AN_SDK}: it answered GET with HTTP {resp.status_code} "
            f"and no {Header.SDK} header"
        )
    return None


async def sync_url(client: httpx.AsyncClient, url: str, settings: ServerSettings) -> str | None:
    """Check that ``url`` is an SDK, then PUT to it so it syncs itself; None on success,
    else what went wrong."""
    problem = await probe_url(client, url, settings)
    if problem is not None:
        return problem
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
    def __init__(
        self, settings: ServerSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        #: Replaces the network (tests).
        self.transport = transport
        self._task: asyncio.Task[None] | None = None
        #: The last problem logged per URL: a URL retried every second logs a warning
        #: when its problem changes, not on every attempt.
        self._reported: dict[str, str | None] = {}

    def start(self) -> None:
        if self.settings.sdk_urls:
            self._task = asyncio.create_task(self._run(), name="outlast-discovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _report(self, url: str, problem: str | None) -> None:
        if problem is None:
            log.info("synced app", extra={"url": url})
        elif self._reported.get(url) != problem:
            log.warning("app sync failed: %s", problem, extra={"url": url, "problem": problem})
        else:
            log.debug("app sync failed again: %s", problem, extra={"url": url})
        self._reported[url] = problem

    async def _run(self) -> None:
        pending = list(self.settings.sdk_urls)
        async with httpx.AsyncClient(timeout=30.0, transport=self.transport) as client:
            while True:
                failed = []
                for url in pending:
                    problem = await sync_url(client, url, self.settings)
                    self._report(url, problem)
                    if problem is not None:
                        failed.append(url)
                if failed:
                    pending = failed
                    await asyncio.sleep(RETRY_S)
                elif self.settings.poll_interval_s > 0:
                    pending = list(self.settings.sdk_urls)
                    await asyncio.sleep(self.settings.poll_interval_s)
                else:
                    return
