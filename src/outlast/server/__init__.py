"""The HTTP server: event API, sync, REST API; wired to an engine by :func:`create_app`."""

from outlast.server.app import create_app
from outlast.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
