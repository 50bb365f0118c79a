"""The client: settings, sending events, and the ``@client.function`` decorator."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
import httpx

from outlast.protocol import ids, jsonutil
from outlast.protocol.ops import Header
from outlast.sdk import config
from outlast.sdk.errors import SendError
from outlast.sdk.event import Event, event_to_dict
from outlast.sdk.function import Function, Handler, TriggerArg, make_function
from outlast.sdk.http import TIMEOUT_SECONDS, bearer, run_sync, sdk_headers, send_with_auth
from outlast.sdk.options import (
    Batch,
    Cancel,
    Concurrency,
    Debounce,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
    Timeouts,
)

logger = logging.getLogger(__name__)

#: Attempts of one send (the first try plus retries on 5xx and network errors).
SEND_ATTEMPTS = 5
#: First delay between send attempts, doubled each time.
SEND_BACKOFF_SECONDS = 0.1
#: The longest ``Retry-After`` a send waits for between two attempts.
MAX_RETRY_AFTER_SECONDS = 10.0


def _retry_after_s(value: str | None) -> float:
    """``Retry-After`` in seconds (the delay form), capped; 0 when absent or a date."""
    try:
        return min(max(float(value or 0), 0.0), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return 0.0


class Client:
    """An Outlast app: where events are sent and which functions it serves.

    Every option can also come from the environment (``OUTLAST_<NAME>`` first, then
    ``INNGEST_<NAME>``): EVENT_KEY, SIGNING_KEY, SIGNING_KEY_FALLBACK, BASE_URL,
    EVENT_API_BASE_URL, API_BASE_URL, DEV (a bool, or a URL), SERVE_ORIGIN, SERVE_PATH,
    CHECKPOINTING (a bool, on by default).
    Without ``dev`` the client is in cloud mode: serving needs a signing key and
    checks request signatures. ``http_transport`` replaces the network (tests).
    ``checkpointing`` lets a call run several steps in a row, saving each through the
    server's checkpoint API before the next (see ``outlast.sdk.checkpoint``).
    """

    def __init__(
        self,
        app_id: str,
        *,
        event_key: str | None = None,
        signing_key: str | None = None,
        signing_key_fallback: str | None = None,
        base_url: str | None = None,
        event_api_base_url: str | None = None,
        api_base_url: str | None = None,
        dev: bool | str | None = None,
        serve_origin: str | None = None,
        serve_path: str | None = None,
        logger: logging.Logger | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        checkpointing: bool | None = None,
    ) -> None:
        self.settings = config.resolve(
            app_id,
            event_key=event_key,
            signing_key=signing_key,
            signing_key_fallback=signing_key_fallback,
            base_url=base_url,
            event_api_base_url=event_api_base_url,
            api_base_url=api_base_url,
            dev=dev,
            serve_origin=serve_origin,
            serve_path=serve_path,
        )
        self.logger = logger or logging.getLogger("outlast.app")
        self._transport = http_transport
        self.checkpointing = config.parse_flag(checkpointing, "CHECKPOINTING", default=True)
        #: Kept-alive sessions for calls made while serving, by the loop each is bound to.
        self._api_sessions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, aiohttp.ClientSession
        ] = weakref.WeakKeyDictionary()

    @property
    def app_id(self) -> str:
        return self.settings.app_id

    @property
    def dev(self) -> bool:
        """True in dev mode (no signing key needed, signatures not checked)."""
        return self.settings.dev

    def __repr__(self) -> str:
        mode = "dev" if self.dev else "cloud"
        return f"<outlast.Client {self.app_id} {mode} {self.settings.api_origin}>"

    def http(self) -> httpx.AsyncClient:
        """A new HTTP client for talking to the server (close it when done)."""
        return httpx.AsyncClient(transport=self._transport, timeout=TIMEOUT_SECONDS)

    async def post_to_api(self, url: str, body: bytes) -> tuple[int, str]:
        """POST JSON to the server while serving (checkpoints): the status and the text.

        Made with aiohttp over a kept-alive session, one per event loop: a checkpoint is
        made for every step, and aiohttp's client takes several times less CPU per request
        than httpx's. A test's ``http_transport`` goes through httpx as every other call.
        Raises ``OSError`` / ``aiohttp.ClientError`` / ``httpx.HTTPError`` on network errors.
        """
        if self._transport is not None:
            async with self.http() as http:
                request = http.build_request("POST", url, content=body, headers=sdk_headers())
                response = await send_with_auth(http, request, self.signing_keys())
                return response.status_code, response.text
        loop = asyncio.get_running_loop()
        session = self._api_sessions.get(loop)
        if session is None:
            session = self._api_sessions[loop] = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            )
        keys: list[str | None] = [*self.signing_keys()] or [None]
        status, text = 0, ""
        for key in keys:
            headers = sdk_headers()
            if key is not None:
                headers[Header.AUTHORIZATION] = bearer(key)
            async with session.post(url, data=body, headers=headers) as answer:
                status, text = answer.status, await answer.text()
            if status not in (401, 403):
                break
        return status, text

    async def close_api_sessions(self) -> None:
        """Close the current loop's kept-alive session, if it has one (WSGI adapters run
        each request on a new loop, and call this at its end)."""
        session = self._api_sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    def signing_keys(self) -> list[str]:
        """The signing key and its fallback, in the order to try them."""
        keys = [self.settings.signing_key, self.settings.signing_key_fallback]
        return [k for k in keys if k]

    # -- events -----------------------------------------------------------

    def _send_request(
        self, events: Event | Mapping[str, Any] | Sequence[Any]
    ) -> tuple[str, list[dict[str, Any]]]:
        key = self.settings.send_event_key
        if key is None:
            raise SendError("no event key: pass event_key= or set OUTLAST_EVENT_KEY")
        items = [events] if isinstance(events, Event | Mapping) else list(events)
        now = time.time_ns() // 1_000_000
        body = []
        for item in items:
            d = event_to_dict(item)
            d.setdefault("ts", now)
            body.append(d)
        return f"{self.settings.event_api_origin}/e/{key}", body

    async def send(self, events: Event | Mapping[str, Any] | Sequence[Any]) -> list[str]:
        """Send one event or a list; return the ids the server gave them.

        5xx answers and network errors are retried (the same id seed each time, so
        the server gives the same ids); 4xx answers raise SendError.
        """
        url, body = self._send_request(events)
        if not body:
            return []
        headers = sdk_headers()
        headers[Header.EVENT_ID_SEED] = ids.make_event_id_seed()
        content = jsonutil.dumps(body)
        last_error = "no response"
        wait_s = 0.0
        async with self.http() as http:
            for attempt in range(SEND_ATTEMPTS):
                if attempt:
                    await asyncio.sleep(max(wait_s, SEND_BACKOFF_SECONDS * 2 ** (attempt - 1)))
                wait_s = 0.0
                try:
                    response = await http.post(url, content=content, headers=headers)
                except httpx.TransportError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                    logger.warning("sending events failed (attempt %d): %s", attempt + 1, exc)
                    continue
                if response.status_code >= 500:
                    # 503 / 507 from a server whose database is away say when to come back.
                    wait_s = _retry_after_s(response.headers.get("retry-after"))
                    last_error = f"HTTP {response.status_code}: {response.text[:500]}"
                    logger.warning(
                        "event API answered %d (attempt %d)", response.status_code, attempt + 1
                    )
                    continue
                return _parse_send_response(response)
        raise SendError(f"sending events failed after {SEND_ATTEMPTS} attempts: {last_error}")

    def send_sync(self, events: Event | Mapping[str, Any] | Sequence[Any]) -> list[str]:
        """Synchronous ``send``."""
        return run_sync(self.send(events))

    # -- functions --------------------------------------------------------

    def function(
        self,
        *,
        id: str,
        trigger: TriggerArg,
        name: str | None = None,
        retries: int = 4,
        on_failure: Handler | None = None,
        cancel: Cancel | Sequence[Cancel] | None = None,
        timeouts: Timeouts | None = None,
        concurrency: int | Concurrency | Sequence[Concurrency] | None = None,
        throttle: Throttle | None = None,
        rate_limit: RateLimit | None = None,
        debounce: Debounce | None = None,
        batch_events: Batch | None = None,
        priority: Priority | None = None,
        singleton: Singleton | None = None,
        idempotency: str | None = None,
    ) -> Callable[[Handler], Function]:
        """Decorate ``async def f(ctx: Context)`` or ``def f(ctx: SyncContext)`` as a function.

        Options are validated now and raise ConfigError.
        """

        def decorate(handler: Handler) -> Function:
            return make_function(
                handler,
                app_id=self.app_id,
                id=id,
                trigger=trigger,
                name=name,
                retries=retries,
                on_failure=on_failure,
                cancel=cancel,
                timeouts=timeouts,
                concurrency=concurrency,
                throttle=throttle,
                rate_limit=rate_limit,
                debounce=debounce,
                batch_events=batch_events,
                priority=priority,
                singleton=singleton,
                idempotency=idempotency,
            )

        return decorate

    # -- run state (when the request was too big) ---------------------------

    async def fetch_run_state(self, run_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Fetch a run's events and memos from the API (``use_api`` requests)."""
        base = f"{self.settings.api_origin}/v0/runs/{run_id}"
        async with self.http() as http:
            batch, actions = await asyncio.gather(
                self._get_json(http, f"{base}/batch"), self._get_json(http, f"{base}/actions")
            )
        if not isinstance(batch, list) or not all(isinstance(e, dict) for e in batch):
            raise ValueError("run batch is not a list of events")
        if not isinstance(actions, dict):
            raise ValueError("run actions are not a JSON object")
        return batch, actions

    async def _get_json(self, http: httpx.AsyncClient, url: str) -> Any:
        request = http.build_request("GET", url, headers=sdk_headers())
        response = await send_with_auth(http, request, self.signing_keys())
        if response.status_code >= 400:
            raise RuntimeError(f"GET {url} answered {response.status_code}: {response.text[:500]}")
        return response.json()


def _parse_send_response(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SendError(
            f"event API answered {response.status_code}, not JSON: {response.text[:500]}",
            status=response.status_code,
        )
    raw_ids = body.get("ids")
    accepted = [str(i) for i in raw_ids] if isinstance(raw_ids, list) else []
    if response.status_code >= 400 or body.get("error"):
        message = body.get("error") or body.get("message") or f"HTTP {response.status_code}"
        raise SendError(str(message), ids=accepted, status=response.status_code)
    return accepted
