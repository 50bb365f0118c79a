"""The dashboard: server-rendered pages (Jinja2) with a vendored htmx and its SSE extension,
served by the Outlast server itself; nothing to build. Pages read through ``server.reads``
and act through the same engine calls as the REST API."""

from outlast.server.dashboard.routes import dashboard_routes

__all__ = ["dashboard_routes"]
