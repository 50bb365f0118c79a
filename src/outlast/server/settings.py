"""Server settings, shared by every route module."""

from __future__ import annotations

from dataclasses import dataclass, field

from outlast.protocol.ops import DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_REQUEST_BYTES, ServerKind


@dataclass(frozen=True, slots=True)
class ServerSettings:
    #: dev: any event key, no signatures. start (self-hosted): keys required.
    dev: bool = True
    event_keys: tuple[str, ...] = ()
    signing_key: str | None = None
    signing_key_fallback: str | None = None
    #: Largest event the event API accepts.
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    #: Largest request body the event API accepts (a batch of events).
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    #: Apps to sync at start (dev mode ``-u``), and how often to sync them again (0: never).
    sdk_urls: tuple[str, ...] = field(default=())
    poll_interval_s: float = 0.0
    #: start mode: a key that opens the dashboard and the REST API (the signing key does too).
    dashboard_key: str | None = None
    #: Whether to serve the dashboard (``--no-ui``: the APIs only).
    ui: bool = True

    @property
    def kind(self) -> ServerKind:
        return ServerKind.DEV if self.dev else ServerKind.CLOUD

    @property
    def signing_keys(self) -> list[str]:
        return [k for k in (self.signing_key, self.signing_key_fallback) if k]

    @property
    def login_keys(self) -> list[str]:
        """The keys a person may log in to the dashboard with."""
        return [k for k in (self.dashboard_key, *self.signing_keys) if k]
