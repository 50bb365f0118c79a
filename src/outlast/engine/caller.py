"""Calls to apps over HTTP: one pooled keep-alive client, signed bodies, parsed answers.

The client is aiohttp's: with a hundred calls in flight, httpx's connection pool spends
more time choosing a connection than the calls take (its pool search is linear in the
connections for every request, and it looks for an async library by trying an import on
each one); aiohttp's connector does neither.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
from multidict import CIMultiDict

from outlast.engine import errors
from outlast.engine.backoff import clamp_retry_after
from outlast.engine.gateway import GatewayRequest
from outlast.protocol import ids, jsonutil, signing
from outlast.protocol.op import Op, OpError, parse_ops
from outlast.protocol.ops import MAX_STEP_OUTPUT_BYTES, REQUEST_VERSION, Header, ServerKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Done:
    """The app answered 200: the run finished with ``output``."""

    kind: ClassVar[str] = "done"
    output: Any = None
    status: int = 200


@dataclass(frozen=True, slots=True)
class Ops:
    """The app answered 206 with ops (steps run, planned, paused...)."""

    kind: ClassVar[str] = "ops"
    ops: tuple[Op, ...] = ()
    #: The answer's retry headers: they apply to a step error among the ops.
    no_retry: bool = False
    retry_after_ms: int | None = None
    status: int = 206

    @classmethod
    def of(cls, raw: list[dict[str, Any]], **kw: Any) -> Ops:
        """Ops from their wire form (tests and tools; answers go through parse_response)."""
        return cls(parse_ops(raw), **kw)


@dataclass(frozen=True, slots=True)
class Failed:
    """The call failed as a whole: any other status, or no answer at all."""

    kind: ClassVar[str] = "error"
    error: dict[str, Any]
    no_retry: bool = False
    retry_after_ms: int | None = None
    #: The HTTP status, None when there was no answer (network error, timeout).
    status: int | None = None


#: What an app answered, reduced to what the executor acts on.
CallResult = Done | Ops | Failed


def _error(message: str, name: str = "Error", **kw: Any) -> Failed:
    return Failed(error=errors.standard(name, message), **kw)


def parse_retry_after(value: str | None, now: float | None = None) -> int | None:
    """``Retry-After`` as seconds or an HTTP/ISO date -> ms from now, clamped 1 s..24 h."""
    if not value:
        return None
    value = value.strip()
    now = time.time() if now is None else now
    try:
        return clamp_retry_after(int(float(value) * 1000))
    except ValueError:
        pass
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        from datetime import datetime

        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return clamp_retry_after(int((dt.timestamp() - now) * 1000))


def _error_body(body: Any, status: int) -> dict[str, Any]:
    """The error an app answered with, every field kept as the SDK sent it (``code``,
    ``stack``, ``cause``, ``data``…); only ``name`` and ``message`` are filled in when
    missing. A body that is not an error object becomes one that quotes it."""
    if isinstance(body, dict):
        err = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(err, dict) and ("message" in err or "name" in err):
            out = dict(err)
            out["name"] = str(err.get("name") or "Error")
            out["message"] = str(err.get("message") or "")
            return out
    text = body if isinstance(body, str) else jsonutil.dumps_str(body)
    return errors.standard("Error", f"app answered HTTP {status}: {text[:2000]}")


def parse_response(status: int, headers: Mapping[str, str], raw: bytes) -> CallResult:
    # ``headers`` must look names up case-insensitively (aiohttp's, httpx's and CIMultiDict do).
    """Turn an app's HTTP answer into a CallResult (protocol.md §4)."""
    if Header.SDK not in headers and status != 201:
        return _error(
            f"the URL answered HTTP {status} without an {Header.SDK} header: not an SDK",
            status=status,
        )
    json_body = True
    try:
        body: Any = jsonutil.loads(raw) if raw.strip() else None
    except ValueError:
        body = raw.decode(errors="replace")
        json_body = False
    if status == 201:
        # Streamed: keep-alive whitespace, then {"status", "headers", "body"}.
        if not isinstance(body, dict) or "status" not in body:
            return _error("malformed streamed response", status=status)
        inner = body.get("body")
        inner_raw = inner.encode() if isinstance(inner, str) else jsonutil.dumps(inner)
        inner_headers = CIMultiDict({Header.SDK: "stream", **(body.get("headers") or {})})
        return parse_response(int(body["status"]), inner_headers, inner_raw)
    if status == 200:
        if not json_body:
            # The output would be the raw text: a broken app or a proxy's page, not a result.
            return _error(
                f"the app answered HTTP 200 with a body that is not JSON: {body[:200]!r}",
                status=status,
            )
        return Done(output=body, status=status)
    if status == 206:
        try:
            ops = parse_ops(body)
        except OpError as exc:
            return _error(str(exc), status=status)
        # A step error in the ops carries the same retry headers as a failed call.
        return Ops(ops=ops, status=status, **_retry_headers(headers))
    return Failed(error=_error_body(body, status), status=status, **_retry_headers(headers))


def _retry_headers(headers: Mapping[str, str]) -> dict[str, Any]:
    return {
        "no_retry": headers.get(Header.NO_RETRY, "").lower() == "true",
        "retry_after_ms": parse_retry_after(headers.get(Header.RETRY_AFTER)),
    }


#: How long an app has to answer a call by default (``outlast dev|start --call-timeout``).
DEFAULT_CALL_TIMEOUT_S = 120.0
#: The longest ``--call-timeout``: as long as a call may take on Inngest's servers.
MAX_CALL_TIMEOUT_S = 2 * 3600

#: The largest answer read from an app. Over it, the call fails without the rest being
#: read: room for one output at its limit (4 MB, which fails its step when over) and the
#: op around it, not for answers that would have to be refused anyway.
MAX_ANSWER_BYTES = 2 * MAX_STEP_OUTPUT_BYTES
#: Answers larger than this are parsed on a worker thread.
PARSE_INLINE_BYTES = 256 * 1024


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes | None:
    """The body, or None as soon as it is known to be over ``cap`` bytes (by its
    Content-Length, or while it streams in)."""
    if resp.content_length is not None and resp.content_length > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class GatewayAnswer:
    """What a request the server made for a step got: a status and body, or an error."""

    status: int | None
    body: str | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.status is not None and 200 <= self.status < 300


class _Unsent(Exception):
    """A request that failed before the app could have received it whole."""


#: How long an idle connection to an app is kept for the next call: under the 5 s after
#: which the usual app servers (uvicorn, Node's http) close theirs, so a call is seldom
#: written into a connection the app is closing.
KEEPALIVE_S = 4.0


class Caller:
    """Sends execution requests to apps."""

    def __init__(
        self,
        *,
        signing_key: str | None,
        server_kind: ServerKind,
        timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        max_connections: int = 256,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.signing_key = signing_key
        self.server_kind = server_kind
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=10.0)
        self.max_connections = max_connections
        self.max_answer_bytes = max_answer_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_S
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, auto_decompress=True
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def headers_for(self, body: bytes) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            Header.SERVER_KIND: self.server_kind.value,
            Header.REQ_VERSION: str(REQUEST_VERSION),
        }
        if self.signing_key:
            headers[Header.SIGNATURE] = signing.sign(body, self.signing_key)
        return headers

    def encode(self, payload: dict[str, Any]) -> bytes:
        # The Python SDK checks the signature over the canonical form of the body, so a
        # signed body is sent canonical; unsigned bodies take the fast encoder.
        if self.signing_key:
            return jsonutil.canonical(payload)
        return jsonutil.dumps(payload)

    async def call(
        self, url: str, payload: dict[str, Any], run_id: str, job_id: str = ""
    ) -> CallResult:
        """POST one call to an app; ``job_id`` names the queue item it is for."""
        body = self.encode(payload)
        headers = self.headers_for(body)
        headers[Header.RUN_ID] = run_id
        headers[Header.REQUEST_ID] = ids.new_ulid()
        if job_id:
            headers[Header.JOB_ID] = job_id
        try:
            try:
                return await self._post(url, body, headers, run_id)
            except _Unsent:
                # The request could not be written (a kept-alive connection the app had
                # just closed): the app has not seen it, so it is sent once more, on a new
                # connection, as Go's HTTP client (Inngest's) does.
                return await self._post(url, body, headers, run_id)
        except _Unsent as exc:
            return _error(f"request to {url} failed: {exc.__cause__!r}", name="NetworkError")
        except TimeoutError:
            return _error(f"request to {url} timed out", name="TimeoutError")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return _error(f"request to {url} failed: {exc!r}", name="NetworkError")

    async def fetch(self, req: GatewayRequest) -> GatewayAnswer:
        """Send a request the server makes for a step (``step.ai.infer``): the answer, or
        why there was none. A body over the step output limit is refused unread."""
        try:
            async with self._client().request(
                req.method, req.url, data=req.body.encode(), headers=req.headers
            ) as resp:
                raw = await _read_capped(resp, MAX_STEP_OUTPUT_BYTES)
                if raw is None:
                    return GatewayAnswer(
                        resp.status, None, f"the answer is over {MAX_STEP_OUTPUT_BYTES} bytes"
                    )
                return GatewayAnswer(resp.status, raw.decode(errors="replace"), None)
        except TimeoutError:
            return GatewayAnswer(None, None, f"request to {req.url} timed out")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return GatewayAnswer(None, None, f"request to {req.url} failed: {exc!r}")

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], run_id: str
    ) -> CallResult:
        try:
            resp = await self._client().post(url, data=body, headers=headers, allow_redirects=False)
        except aiohttp.ClientOSError as exc:
            if "write request body" in str(exc):
                raise _Unsent from exc
            raise
        async with resp:
            raw = await _read_capped(resp, self.max_answer_bytes)
            log.debug("called %s: HTTP %d", url, resp.status, extra={"run_id": run_id})
            if raw is None:
                detail = (
                    f"the app's answer is over {self.max_answer_bytes} bytes: refused "
                    "unread (a step's or the function's output may be 4 MB at most)"
                )
                return Failed(error=errors.answer_too_large(detail), status=resp.status)
            if len(raw) > PARSE_INLINE_BYTES:
                # Parsing a large answer takes a while: not on the loop other calls use.
                return await asyncio.to_thread(parse_response, resp.status, resp.headers, raw)
            return parse_response(resp.status, resp.headers, raw)
