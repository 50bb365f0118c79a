"""The ASGI, Flask and Django adapters answer like the core."""

from __future__ import annotations

import types
from typing import Any

import httpx
import pytest

import outlast
from outlast.protocol import jsonutil

from .conftest import h, request_body


def functions(client: outlast.Client) -> list[outlast.Function]:
    @client.function(id="async-fn", trigger="test/event")
    async def async_fn(ctx: outlast.Context) -> Any:
        n = await ctx.step.run("double", lambda: ctx.event.data["x"] * 2)
        return {"n": n}

    @client.function(id="sync-fn", trigger="test/event")
    def sync_fn(ctx: outlast.SyncContext) -> Any:
        return ctx.step.run("triple", lambda: ctx.event.data["x"] * 3)

    return [async_fn, sync_fn]


def check_execution(status: int, body: Any, headers: Any, *, step: str, data: Any) -> None:
    assert status == 206, body
    assert headers["x-inngest-sdk"].startswith("outlast-py:v")
    assert body[0]["id"] == h(step) and body[0]["data"] == data


async def test_asgi_mounted_in_starlette(client: outlast.Client) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Starlette(
        routes=[Mount("/api/outlast", app=outlast.asgi.serve(client, functions(client)))]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        # A Starlette Mount answers under its prefix with a trailing slash.
        res = await http.get("/api/outlast/")
        assert res.status_code == 200 and res.json()["function_count"] == 2
        res = await http.post(
            "/api/outlast/?fnId=app-async-fn&stepId=step", content=jsonutil.dumps(request_body())
        )
        check_execution(res.status_code, res.json(), res.headers, step="double", data=2)
        res = await http.post(
            "/api/outlast/?fnId=app-sync-fn&stepId=step", content=jsonutil.dumps(request_body())
        )
        check_execution(res.status_code, res.json(), res.headers, step="triple", data=3)


async def test_asgi_as_an_exact_starlette_route(client: outlast.Client) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    serve_app = outlast.asgi.serve(client, functions(client))
    app = Starlette(routes=[Route("/api/outlast", serve_app, methods=["GET", "POST", "PUT"])])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        res = await http.post(
            "/api/outlast?fnId=app-async-fn&stepId=step", content=jsonutil.dumps(request_body())
        )
        check_execution(res.status_code, res.json(), res.headers, step="double", data=2)


async def test_asgi_in_fastapi_reports_its_url_on_sync() -> None:
    from fastapi import FastAPI

    registered: list[dict[str, Any]] = []

    def server(request: httpx.Request) -> httpx.Response:
        registered.append(jsonutil.loads(request.content))
        return httpx.Response(200, json={"ok": True, "modified": False})

    client = outlast.Client("app", dev=True, http_transport=httpx.MockTransport(server))
    app = FastAPI()
    app.mount("/api/outlast", outlast.asgi.serve(client, functions(client)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://myapp:8000") as http:
        res = await http.put("/api/outlast/")
    assert res.status_code == 200 and res.json()["modified"] is False
    assert registered[0]["url"] == "http://myapp:8000/api/outlast/"


def test_flask_adapter(client: outlast.Client) -> None:
    import flask

    app = flask.Flask(__name__)
    outlast.flask.serve(app, client, functions(client))
    test_client = app.test_client()
    res = test_client.get("/api/outlast")
    assert res.status_code == 200 and res.get_json()["mode"] == "dev"
    for fn_id, step, data in (("async-fn", "double", 2), ("sync-fn", "triple", 3)):
        res = test_client.post(
            f"/api/outlast?fnId=app-{fn_id}&stepId=step", data=jsonutil.dumps(request_body())
        )
        check_execution(res.status_code, res.get_json(), res.headers, step=step, data=data)
    memo = request_body(steps={h("triple"): {"data": 3}})
    res = test_client.post("/api/outlast?fnId=app-sync-fn&stepId=step", data=jsonutil.dumps(memo))
    assert res.status_code == 200 and res.get_json() == 3


@pytest.fixture(scope="module")
def django_urls() -> types.ModuleType:
    import django
    from django.conf import settings

    urls = types.ModuleType("outlast_test_urls")
    urls.urlpatterns = []  # type: ignore[attr-defined]
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="test",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=urls,
            INSTALLED_APPS=[],
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
            USE_TZ=True,
        )
        django.setup()
    return urls


def test_django_adapter(django_urls: types.ModuleType, client: outlast.Client) -> None:
    from django.test import Client as DjangoClient
    from django.test.utils import override_settings
    from django.urls import path

    django_urls.urlpatterns = [  # type: ignore[attr-defined]
        path("api/outlast", outlast.django.serve(client, functions(client)))
    ]
    with override_settings(ROOT_URLCONF=django_urls):
        test_client = DjangoClient(enforce_csrf_checks=True)
        res = test_client.get("/api/outlast")
        assert res.status_code == 200 and res.json()["function_count"] == 2
        for fn_id, step, data in (("async-fn", "double", 2), ("sync-fn", "triple", 3)):
            res = test_client.post(
                f"/api/outlast?fnId=app-{fn_id}&stepId=step",
                data=jsonutil.dumps(request_body()),
                content_type="application/json",
            )
            check_execution(res.status_code, res.json(), res.headers, step=step, data=data)
