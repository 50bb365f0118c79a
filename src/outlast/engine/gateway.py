"""``step.ai.infer`` (the ``AIGateway`` op): the request the server sends to a model
provider for the app, built from what the SDK put in the op, as Inngest builds it.

The SDK gives the provider's URL, its key, the request format and the body. The key goes
where the format wants it: ``X-Api-Key`` for Anthropic, the ``key`` query parameter for
Gemini, the ``Authorization`` header as given for Bedrock, a Bearer token otherwise
(OpenAI-compatible chat); the SDK's own headers are added last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from outlast.domain import StepRecord
from outlast.protocol import jsonutil


class GatewayError(ValueError):
    """The op does not describe a request the server can send; the message says why."""


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    """An HTTP request the server sends for a run's step."""

    url: str
    body: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        return {"url": self.url, "body": self.body, "method": self.method, "headers": self.headers}

    @classmethod
    def decode(cls, payload: Mapping[str, Any]) -> GatewayRequest:
        return cls(
            url=str(payload.get("url") or ""),
            body=str(payload.get("body") or ""),
            method=str(payload.get("method") or "POST"),
            headers={str(k): str(v) for k, v in (payload.get("headers") or {}).items()},
        )


def ai_request(opts: Mapping[str, Any]) -> GatewayRequest:
    """The provider request an ``AIGateway`` op describes. Raises :class:`GatewayError`."""
    raw = opts.get("url")
    url = raw if isinstance(raw, str) else ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise GatewayError(f"step.ai.infer needs an http(s) URL, got {str(raw)[:200]!r}")
    if not parts.netloc:
        raise GatewayError(f"step.ai.infer needs a URL with a host, got {url[:200]!r}")
    body = opts.get("body")
    if not isinstance(body, dict):
        raise GatewayError("step.ai.infer needs a JSON object as the request body")
    extra = opts.get("headers") or {}
    if not isinstance(extra, Mapping):
        raise GatewayError("step.ai.infer headers must be a JSON object")
    key = str(opts.get("auth_key") or "")
    # The SDKs send "openai-chat", "anthropic", "gemini" or "bedrock"; any other is OpenAI's.
    fmt = str(opts.get("format") or "openai-chat")
    headers = {"Content-Type": "application/json"}
    if fmt == "gemini":
        url = _with_query(url, "key", key) if key else url
    elif fmt == "bedrock":
        headers["Authorization"] = key
    elif fmt == "anthropic":
        headers["X-Api-Key"] = key
    elif key:
        headers["Authorization"] = f"Bearer {key}"
    for name, value in extra.items():
        headers[canonical(str(name))] = str(value)
    return GatewayRequest(url=url, body=jsonutil.dumps_str(body), headers=headers)


def canonical(name: str) -> str:
    """A header name as Go's HTTP client (Inngest's) writes it: ``X-My-Header``."""
    return "-".join(part.capitalize() for part in name.split("-"))


def _with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({name: value})))


def usage(output: Any) -> dict[str, int] | None:
    """The tokens a provider's answer says it used, ``{"input_tokens", "output_tokens"}``,
    in each format's own fields (OpenAI's ``prompt/completion_tokens``, Anthropic's
    ``input/output_tokens``, Bedrock's ``inputTokens/outputTokens``, Gemini's
    ``usageMetadata``); None when the answer does not say."""
    if not isinstance(output, Mapping):
        return None
    found = output.get("usage")
    pairs: tuple[tuple[str, str], ...] = (
        ("input_tokens", "output_tokens"),
        ("prompt_tokens", "completion_tokens"),
        ("inputTokens", "outputTokens"),
    )
    if not isinstance(found, Mapping):
        found = output.get("usageMetadata")
        if not isinstance(found, Mapping):
            return None
        pairs = (("promptTokenCount", "candidatesTokenCount"),)
    for took, gave in pairs:
        n_in, n_out = found.get(took), found.get(gave)
        if isinstance(n_in, int) and isinstance(n_out, int):
            return {"input_tokens": n_in, "output_tokens": n_out}
    return None


def step_usage(step: StepRecord) -> dict[str, int] | None:
    """The tokens a ``step.ai.infer`` step used (from the answer it saved), else None."""
    if step.op != "AIGateway" or not isinstance(step.memo, Mapping):
        return None
    return usage(step.memo.get("data"))
