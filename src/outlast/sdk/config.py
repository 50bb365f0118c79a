"""Client settings: constructor arguments first, then ``OUTLAST_*``, then ``INNGEST_*`` env vars."""

from __future__ import annotations

import importlib.metadata
import logging
import os
from dataclasses import dataclass

from outlast.protocol.ops import ServerKind
from outlast.sdk.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_ORIGIN = "http://127.0.0.1:8288"
DEV_EVENT_KEY = "NO_EVENT_KEY_SET"
LANGUAGE = "py"

try:
    VERSION = importlib.metadata.version("outlast")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
    VERSION = "0.0.0"

#: The ``x-inngest-sdk`` header value and the ``sdk`` field of a sync.
SDK_NAME = f"outlast-{LANGUAGE}:v{VERSION}"
#: The execution request version the SDK prefers (inngest-py sends "2").
REQUEST_VERSION = "2"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env(name: str) -> str | None:
    """``OUTLAST_<name>`` if set (and not blank), else ``INNGEST_<name>``."""
    for prefix in ("OUTLAST_", "INNGEST_"):
        value = os.environ.get(prefix + name)
        if value is not None and value.strip():
            return value.strip()
    return None


def _origin(url: str, what: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    if not url.split("://", 1)[1]:
        raise ConfigError(f"{what} {url!r} is not a URL")
    return url


def parse_dev(value: bool | str | None) -> tuple[bool, str | None]:
    """Read a ``dev`` setting: a bool, a bool-like string, or a URL (dev mode at that origin)."""
    if value is None:
        return False, None
    if isinstance(value, bool):
        return value, None
    text = value.strip()
    if text.lower() in _TRUE:
        return True, None
    if text.lower() in _FALSE:
        return False, None
    return True, _origin(text, "dev URL")


def parse_flag(value: bool | None, name: str, default: bool) -> bool:
    """A boolean option: the argument if given, else ``OUTLAST_<name>`` / ``INNGEST_<name>``."""
    if value is not None:
        return value
    text = env(name)
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {text!r}")


@dataclass(frozen=True)
class Settings:
    """Resolved client settings."""

    app_id: str
    dev: bool
    event_key: str | None
    signing_key: str | None
    signing_key_fallback: str | None
    event_api_origin: str
    api_origin: str
    serve_origin: str | None
    serve_path: str | None

    @property
    def server_kind(self) -> ServerKind:
        return ServerKind.DEV if self.dev else ServerKind.CLOUD

    @property
    def send_event_key(self) -> str | None:
        if self.event_key:
            return self.event_key
        return DEV_EVENT_KEY if self.dev else None


def resolve(
    app_id: str,
    *,
    event_key: str | None,
    signing_key: str | None,
    signing_key_fallback: str | None,
    base_url: str | None,
    event_api_base_url: str | None,
    api_base_url: str | None,
    dev: bool | str | None,
    serve_origin: str | None,
    serve_path: str | None,
) -> Settings:
    """Combine arguments and environment into Settings."""
    if not isinstance(app_id, str) or not app_id.strip():
        raise ConfigError("app_id must be a non-empty string")
    is_dev, dev_origin = parse_dev(dev if dev is not None else env("DEV"))
    base = base_url or env("BASE_URL") or dev_origin
    event_api = event_api_base_url or env("EVENT_API_BASE_URL") or base or DEFAULT_ORIGIN
    api = api_base_url or env("API_BASE_URL") or base or DEFAULT_ORIGIN
    if base_url:
        # An explicit base_url beats the environment but not the specific arguments.
        event_api = event_api_base_url or base_url
        api = api_base_url or base_url
    return Settings(
        app_id=app_id,
        dev=is_dev,
        event_key=event_key or env("EVENT_KEY"),
        signing_key=signing_key or env("SIGNING_KEY"),
        signing_key_fallback=signing_key_fallback or env("SIGNING_KEY_FALLBACK"),
        event_api_origin=_origin(event_api, "event API URL"),
        api_origin=_origin(api, "API URL"),
        serve_origin=serve_origin or env("SERVE_ORIGIN"),
        serve_path=serve_path or env("SERVE_PATH"),
    )
