"""Who may call what: Bearer signing keys for sync and the REST API in self-hosted mode."""

from __future__ import annotations

from starlette.requests import Request

from outlast.protocol import signing
from outlast.server.settings import ServerSettings


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    if value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def signing_key_ok(request: Request, settings: ServerSettings) -> bool:
    """Dev mode lets everyone in; self-hosted mode wants the signing key (plain or hashed)."""
    if settings.dev:
        return True
    token = bearer(request)
    return token is not None and signing.bearer_matches(token, settings.signing_keys)
