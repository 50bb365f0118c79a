"""The framework-agnostic serve endpoint: GET inspects, PUT syncs, POST executes.

Adapters (ASGI, Flask, Django) only translate their request into HttpRequest and
HttpResponse back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

from outlast.protocol import jsonutil, signing
from outlast.protocol.ops import Header
from outlast.sdk.client import Client
from outlast.sdk.config import LANGUAGE, SDK_NAME, VERSION
from outlast.sdk.errors import ConfigError, OutlastError
from outlast.sdk.function import Function
from outlast.sdk.http import sdk_headers, send_with_auth
from outlast.sdk.runner import Answer, ExecutionRequest, error_answer, execute

logger = logging.getLogger(__name__)

#: The introspection schema inngest-py reports.
INSPECTION_SCHEMA = "2024-05-24"


@dataclass(frozen=True)
class HttpRequest:
    """An incoming request: method, full URL (with query), headers, raw body."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        for key, val in self.headers.items():
            if key.lower() == lowered:
                return val
        return None

    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items() if v}


@dataclass(frozen=True)
class HttpResponse:
    """An outgoing response: status, headers, encoded body."""

    status: int
    headers: dict[str, str]
    body: bytes


class _Coded(OutlastError):
    def __init__(self, code: str, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.retriable = retriable


class ServeHandler:
    """Serves a client's functions over HTTP, whatever the framework."""

    def __init__(
        self,
        client: Client,
        functions: Sequence[Function],
        *,
        framework: str,
    ) -> None:
        if not client.dev and not client.settings.signing_key:
            raise ConfigError(
                "a signing key is required to serve functions in cloud mode: pass "
                "signing_key= or set OUTLAST_SIGNING_KEY (or use dev mode: OUTLAST_DEV=1)"
            )
        self.client = client
        self.framework = framework
        self.functions = list(functions)
        seen: set[str] = set()
        for fn in self.functions:
            if not isinstance(fn, Function):
                raise ConfigError(f"not an outlast.Function: {fn!r}")
            if fn.app_id != client.app_id:
                raise ConfigError(f"{fn!r} belongs to app {fn.app_id!r}, not {client.app_id!r}")
            if fn.full_id in seen:
                raise ConfigError(f"two functions have the id {fn.id!r}")
            seen.add(fn.full_id)

    @property
    def server_kind(self) -> str:
        return self.client.settings.server_kind.value

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request."""
        method = request.method.upper()
        if method == "GET":
            return self._inspect(request)
        if method == "PUT":
            return self._encode(await self._sync(request))
        if method == "POST":
            return await self._execute(request)
        return self._encode(Answer(405, {"code": "method_not_allowed", "message": method}))

    async def handle_in_new_loop(self, request: HttpRequest) -> HttpResponse:
        """Answer one request on a loop made for it (WSGI): what it opened is closed after."""
        try:
            return await self.handle(request)
        finally:
            await self.client.close_api_sessions()

    # -- helpers ------------------------------------------------------------

    def _encode(self, answer: Answer, signing_key: str | None = None) -> HttpResponse:
        try:
            body = jsonutil.dumps(answer.body)
        except TypeError as exc:
            answer = error_answer(exc)
            body = jsonutil.dumps(answer.body)
        headers = sdk_headers(framework=self.framework, server_kind=self.server_kind)
        headers.update(answer.headers)
        if signing_key is not None:
            headers[Header.SIGNATURE] = signing.sign(body, signing_key)
        return HttpResponse(answer.status, headers, body)

    def _verified_key(self, request: HttpRequest) -> str | None:
        """The signing key that signed the request; raises SignatureError when none did."""
        keys = self.client.signing_keys()
        try:
            canonical = jsonutil.canonical(jsonutil.loads(request.body)) if request.body else b""
        except ValueError as exc:
            raise signing.SignatureError("request body is not JSON") from exc
        header = request.header(Header.SIGNATURE)
        for key in keys:
            try:
                signing.verify(canonical, header, [key])
            except signing.SignatureError:
                continue
            return key
        signing.verify(canonical, header, [])  # raises the precise reason
        raise signing.SignatureError("signature does not match")  # pragma: no cover

    def serve_url(self, request: HttpRequest) -> str:
        """The URL the server should call: serve_origin/serve_path if set, else the request's."""
        parts = urlsplit(request.url)
        scheme, netloc, path = parts.scheme, parts.netloc, parts.path
        origin = self.client.settings.serve_origin
        if origin:
            if "://" in origin:
                o = urlsplit(origin)
                scheme, netloc = o.scheme or scheme, o.netloc or netloc
            else:
                scheme, netloc = "https", origin.rstrip("/")
        if self.client.settings.serve_path:
            path = self.client.settings.serve_path
        return urlunsplit((scheme, netloc, path, "", ""))

    def _kind_mismatch(self, request: HttpRequest) -> str | None:
        kind = request.header(Header.SERVER_KIND)
        if kind is None or kind == self.server_kind:
            return None
        if kind == "dev":
            return "Sync rejected since it's from a Dev Server but expected Cloud"
        return "Sync rejected since it's from Cloud but expected Dev Server"

    # -- GET: introspection -------------------------------------------------

    def _inspect(self, request: HttpRequest) -> HttpResponse:
        if self._kind_mismatch(request) is not None:
            return self._encode(Answer(403, {}))
        settings = self.client.settings
        body: dict[str, Any] = {
            "schema_version": INSPECTION_SCHEMA,
            "function_count": len(self.functions),
            "has_event_key": settings.event_key is not None,
            "has_signing_key": settings.signing_key is not None,
            "has_signing_key_fallback": settings.signing_key_fallback is not None,
            "mode": self.server_kind,
        }
        signed_with: str | None = None
        if not self.client.dev and request.header(Header.SIGNATURE):
            try:
                signed_with = self._verified_key(request)
            except signing.SignatureError:
                signed_with = None
        if signed_with is not None:
            body.update(self._private_inspection(request))
        return self._encode(Answer(200, body), signed_with)

    def _private_inspection(self, request: HttpRequest) -> dict[str, Any]:
        s = self.client.settings

        def hashed(key: str | None) -> str | None:
            return signing.strip_prefix(signing.hash_key(key)) if key else None

        return {
            "authentication_succeeded": True,
            "api_origin": s.api_origin,
            "app_id": s.app_id,
            "capabilities": {"trust_probe": "v1"},
            "env": None,
            "event_api_origin": s.event_api_origin,
            "event_key_hash": hashlib.sha256(s.event_key.encode()).hexdigest()
            if s.event_key
            else None,
            "framework": self.framework,
            "sdk_language": LANGUAGE,
            "sdk_version": VERSION,
            "serve_origin": s.serve_origin,
            "serve_path": s.serve_path,
            "signing_key_hash": hashed(s.signing_key),
            "signing_key_fallback_hash": hashed(s.signing_key_fallback),
        }

    # -- PUT: sync ------------------------------------------------------------

    def register_body(self, serve_url: str) -> dict[str, Any]:
        """The body POSTed to ``/fn/register``."""
        return {
            "url": serve_url,
            "appname": self.client.app_id,
            "deploy_type": "ping",
            "framework": self.framework,
            "sdk": SDK_NAME,
            "v": "0.1",
            "capabilities": {"trust_probe": "v1"},
            "functions": [cfg for fn in self.functions for cfg in fn.configs(serve_url)],
        }

    async def _sync(self, request: HttpRequest) -> Answer:
        mismatch = self._kind_mismatch(request)
        if mismatch is not None:
            logger.error(mismatch)
            return Answer(400, {"code": "server_kind_mismatch", "message": mismatch})
        url = f"{self.client.settings.api_origin}/fn/register"
        deploy_id = request.query().get("deployId")
        if deploy_id:
            url += "?" + urlencode({"deployId": deploy_id})
        body = self.register_body(self.serve_url(request))
        headers = sdk_headers(framework=self.framework, server_kind=self.server_kind)
        try:
            async with self.client.http() as http:
                req = http.build_request("POST", url, content=jsonutil.dumps(body), headers=headers)
                response = await send_with_auth(http, req, self.client.signing_keys())
        except httpx.HTTPError as exc:
            logger.error("sync failed: %s", exc)
            return error_answer(_Coded("registration_failed", f"request to {url} failed: {exc}"))
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if response.status_code >= 300 or not isinstance(reply, dict):
            message = reply.get("error") if isinstance(reply, dict) else None
            message = str(message or f"HTTP {response.status_code}: {response.text[:500]}")
            logger.error("sync refused by %s: %s", url, message)
            return error_answer(_Coded("registration_failed", message.strip()))
        logger.info("synced %d functions to %s", len(body["functions"]), url)
        return Answer(
            200, {"message": "Successfully registered", "modified": bool(reply.get("modified"))}
        )

    # -- POST: execution ------------------------------------------------------

    def _find(self, fn_id: str) -> tuple[Function, Any] | None:
        for fn in self.functions:
            handler = fn.handler_for(fn_id)
            if handler is not None:
                return fn, handler
        return None

    async def _execute(self, request: HttpRequest) -> HttpResponse:
        key: str | None = None
        if not self.client.dev:
            try:
                key = self._verified_key(request)
            except signing.SignatureError as exc:
                logger.warning("refused an execution request: %s", exc)
                answer = Answer(401, {"code": "sig_verification_failed", "message": str(exc)})
                return self._encode(answer)
        return self._encode(await self._run(request), key)

    async def _run(self, request: HttpRequest) -> Answer:
        query = request.query()
        if query.get("probe") == "trust":
            return Answer(200, None)
        fn_id = query.get("fnId")
        if not fn_id:
            return error_answer(_Coded("query_param_missing", "missing fnId query parameter"))
        found = self._find(fn_id)
        if found is None:
            return error_answer(_Coded("function_not_found", f"function {fn_id} not found"))
        fn, handler = found
        try:
            parsed = ExecutionRequest.parse(jsonutil.loads(request.body))
        except (ValueError, TypeError) as exc:
            return error_answer(_Coded("body_invalid", f"invalid request body: {exc}"), 400)
        if parsed.use_api:
            try:
                events, steps = await self.client.fetch_run_state(parsed.run_id)
            except Exception as exc:
                logger.error("fetching run state of %s failed: %s", parsed.run_id, exc)
                return error_answer(_Coded("unknown", f"fetching run state failed: {exc}"))
            parsed = parsed.with_state(events, steps)
        step_id = query.get("stepId")
        target = None if step_id in (None, "", "step") else step_id
        fn_id_full = fn.failure_id if handler is fn.on_failure else fn.full_id
        return await execute(self.client, handler, fn_id_full or fn.full_id, parsed, target)
