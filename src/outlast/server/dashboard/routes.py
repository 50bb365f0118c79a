"""The dashboard's routes, mounted by ``server.app``: pages (GET), actions (POST, each
doing what the REST API's route for it does), live updates (SSE) and the static files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from outlast.server.dashboard import apps, events, functions, live, login, runs
from outlast.server.dashboard.render import HERE


async def home(request: Request) -> Response:
    return RedirectResponse("/runs", 303)


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/login", login.login_page, methods=["GET"]),
        Route("/login", login.login, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/apps", apps.apps_page, methods=["GET"]),
        Route("/apps", apps.add_app, methods=["POST"]),
        Route("/apps/{app_id}/resync", apps.resync_app, methods=["POST"]),
        Route("/functions", functions.functions_page, methods=["GET"]),
        Route("/functions/{function_id}", functions.function_page, methods=["GET"]),
        Route("/functions/{function_id}/invoke", functions.invoke_function, methods=["POST"]),
        Route("/functions/{function_id}/pause", functions.pause_function, methods=["POST"]),
        Route("/functions/{function_id}/resume", functions.resume_function, methods=["POST"]),
        Route("/runs", runs.runs_page, methods=["GET"]),
        Route("/runs/{run_id}", runs.run_page, methods=["GET"]),
        Route("/runs/{run_id}/live", runs.run_live, methods=["GET"]),
        Route("/runs/{run_id}/cancel", runs.cancel_run, methods=["POST"]),
        Route("/runs/{run_id}/rerun", runs.rerun_run, methods=["POST"]),
        Route("/events", events.events_page, methods=["GET"]),
        Route("/events", events.send_event, methods=["POST"]),
        Route("/events/{event_id}", events.event_page, methods=["GET"]),
        Route("/events/{event_id}/replay", events.replay_event, methods=["POST"]),
        Route("/live/runs", live.runs_stream, methods=["GET"]),
        Route("/live/events", live.events_stream, methods=["GET"]),
        Route("/live/events/{event_id}", live.event_stream, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
