"""A request that fails because the database did gets 503 (507: disk full) with
Retry-After and one log line per kind of failure per interval; a bug stays a 500."""

from __future__ import annotations

import errno
import logging
import sqlite3

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from outlast.server.store_errors import StoreErrors
from outlast.store.failures import StoreFailure
from outlast.store.postgres import PostgresStore
from outlast.store.sqlite import SQLiteStore

SQLITE = SQLiteStore(":memory:")
POSTGRES = PostgresStore("postgresql://127.0.0.1:1/none")

FAILURES: dict[str, BaseException] = {
    "full": sqlite3.OperationalError("database or disk is full"),
    "locked": sqlite3.OperationalError("database is locked"),
    "refused": ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    "bug": sqlite3.OperationalError("no such column: nope"),
    "enospc": OSError(errno.ENOSPC, "No space left on device"),
}


async def fail(request: Request) -> Response:
    raise FAILURES[request.path_params["what"]]


def client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/fail/{what}", fail)],
        middleware=[Middleware(StoreErrors, store=SQLITE)],
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.mark.parametrize(
    ("what", "status", "retry"),
    [("full", 507, "30"), ("enospc", 507, "30"), ("locked", 503, "1"), ("refused", 503, "1")],
)
async def test_a_store_failure_is_503_or_507_with_retry_after(
    what: str, status: int, retry: str
) -> None:
    async with client() as c:
        r = await c.get(f"/fail/{what}")
    assert r.status_code == status
    assert r.headers["retry-after"] == retry
    assert "database" in r.json()["error"]


async def test_a_bug_is_still_a_500() -> None:
    async with client() as c:
        assert (await c.get("/fail/bug")).status_code == 500


async def test_a_failure_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="outlast.server.store_errors"):
        async with client() as c:
            for _ in range(50):
                assert (await c.get("/fail/refused")).status_code == 503
            assert (await c.get("/fail/full")).status_code == 507
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("store unavailable: GET /fail/refused")
    assert lines[1].startswith("store full: GET /fail/full")


def test_postgres_errors_are_classified() -> None:
    def pg(cls: type[Exception], message: str = "x") -> Exception:
        return cls(message)

    assert POSTGRES.failure(pg(asyncpg.DiskFullError)) is StoreFailure.FULL
    assert POSTGRES.failure(pg(asyncpg.CannotConnectNowError)) is StoreFailure.UNAVAILABLE
    assert POSTGRES.failure(pg(asyncpg.AdminShutdownError)) is StoreFailure.UNAVAILABLE
    assert POSTGRES.failure(pg(asyncpg.ConnectionDoesNotExistError)) is StoreFailure.UNAVAILABLE
    assert POSTGRES.failure(pg(asyncpg.TooManyConnectionsError)) is StoreFailure.UNAVAILABLE
    assert POSTGRES.failure(asyncpg.InterfaceError("connection is closed")) is not None
    assert POSTGRES.failure(asyncpg.InterfaceError("another operation is in progress")) is None
    busy = asyncpg.exceptions.InternalClientError("another operation (2) is in progress")
    assert POSTGRES.failure(busy) is StoreFailure.UNAVAILABLE
    assert POSTGRES.failure(pg(asyncpg.UndefinedColumnError)) is None
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("while saving") from inner
    except RuntimeError as outer:
        assert POSTGRES.failure(outer) is StoreFailure.UNAVAILABLE
