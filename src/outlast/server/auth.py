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


def signing_key_problem(request: Request, settings: ServerSettings) -> str | None:
    """Why the request may not call a signed route, or None when it may.

    Dev mode lets everyone in; self-hosted mode wants the signing key (plain or hashed).
    """
    if settings.dev:
        return None
    token = bearer(request)
    if not token:
        return "missing signing key: send 'Authorization: Bearer <hashed signing key>'"
    if not signing.bearer_matches(token, settings.signing_keys):
        return "invalid signing key: the Bearer token matches no signing key of this server"
    return None
