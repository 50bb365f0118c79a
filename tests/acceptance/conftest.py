"""Acceptance fixtures: a real ``outlast`` server (SQLite or PostgreSQL) and real app processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.harness import App, Server
from tests.conftest import ON_POSTGRES, POSTGRES_URI, drop_schema, new_schema, require_postgres

MakeServer = Callable[..., Server]
MakeApp = Callable[..., App]


@pytest.fixture(params=["sqlite", ON_POSTGRES])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Server keyword arguments selecting the store: embedded SQLite or a fresh PG schema."""
    if request.param == "sqlite":
        yield {}
        return
    require_postgres()
    schema = new_schema()
    yield {"postgres_uri": POSTGRES_URI, "postgres_schema": schema}
    asyncio.run(drop_schema(schema))


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    started: list[Server] = []

    def make(**kwargs: Any) -> Server:
        server = Server(tmp_path, **kwargs)
        started.append(server)  # before start: one that fails to come up is killed too
        server.start()
        return server

    yield make
    for server in started:
        server.kill()


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    started: list[App] = []

    def make(target: str, **kwargs: Any) -> App:
        app = App(tmp_path, target, **kwargs)
        started.append(app)  # before start: one that fails to come up is killed too
        app.start()
        return app

    yield make
    for app in started:
        app.kill()


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh schema on the shared PostgreSQL, for tests that start several servers on
    one database (dropped afterwards)."""
    require_postgres()
    name = new_schema()
    yield name
    asyncio.run(drop_schema(name))
