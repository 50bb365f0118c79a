"""The ASGI application: routes, and the engine's life tied to the server's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from outlast.engine.runtime import Engine
from outlast.server import cancellations, checkpoint, events_api, gql, manage, register, rest
from outlast.server.dashboard import dashboard_routes
from outlast.server.dashboard.failed_logins import FailedLogins
from outlast.server.discovery import Discovery
from outlast.server.responses import error, json_response
from outlast.server.settings import ServerSettings
from outlast.server.store_errors import StoreErrors


async def health(request: Request) -> Response:
    return json_response({"status": 200, "message": "OK"})


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) as JSON, like every other answer."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such route: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    response = error(message, exc.status_code)
    response.headers.update(exc.headers or {})
    return response


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug: answered as JSON; the traceback is logged by the server."""
    return error("internal server error", 500)


def create_app(engine: Engine, settings: ServerSettings) -> Starlette:
    """Build the server for ``engine``; starting the app starts the engine."""
    discovery = Discovery(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.store.open()
        await engine.start()
        discovery.start()
        try:
            yield
        finally:
            await discovery.stop()
            await engine.stop()
            await engine.store.close()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/e/{key}", events_api.post_events, methods=["POST"]),
        Route("/fn/register", register.register, methods=["POST"]),
        Route("/fn/remove", register.remove, methods=["POST"]),
        Route("/dev", register.dev_info, methods=["GET"]),
        Route("/v0/connect/start", register.connect_start, methods=["POST"]),
        Route("/v0/gql", gql.graphql_endpoint, methods=["POST"]),
        Route("/v1/checkpoint/{run_id}/async", checkpoint.checkpoint_async, methods=["POST"]),
        Route("/v0/runs/{run_id}/batch", rest.run_batch, methods=["GET"]),
        Route("/v0/runs/{run_id}/actions", rest.run_actions, methods=["GET"]),
        Route("/v1/events", rest.list_events, methods=["GET"]),
        Route("/v1/events/{event_id}", rest.get_event, methods=["GET"]),
        Route("/v1/events/{event_id}/runs", rest.event_runs, methods=["GET"]),
        Route("/v1/runs", rest.list_runs, methods=["GET"]),
        Route("/v1/runs/{run_id}", rest.get_run, methods=["GET"]),
        Route("/v1/runs/{run_id}", rest.cancel_run, methods=["DELETE"]),
        Route("/v1/cancellations", cancellations.create_cancellation, methods=["POST"]),
        Route("/v1/events/{event_id}/replay", manage.replay_event, methods=["POST"]),
        Route("/v1/runs/{run_id}/rerun", manage.rerun_run, methods=["POST"]),
        Route("/v1/functions/{function_id}/pause", manage.pause_function, methods=["POST"]),
        Route("/v1/functions/{function_id}/resume", manage.resume_function, methods=["POST"]),
        Route("/v1/functions/{function_id}/invoke", manage.invoke_function, methods=["POST"]),
        Route("/v1/functions/{function_id}/replay", manage.replay_function, methods=["POST"]),
        *(dashboard_routes() if settings.ui else ()),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(StoreErrors, store=engine.store)],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
    )
    app.state.engine = engine
    app.state.settings = settings
    # Per app, not per module: each server (and each test's) counts its own failures.
    app.state.failed_logins = FailedLogins()
    return app
