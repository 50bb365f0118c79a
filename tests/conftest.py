"""Shared fixtures: stores of every kind, PostgreSQL discovery; each test marked with its tier."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from outlast.store import Store
from outlast.store.postgres import PostgresStore
from outlast.store.sqlite import SQLiteStore

POSTGRES_URI = os.environ.get(
    "OUTLAST_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_pg_state: dict[str, str | None] = {}

#: The test folders, each a tier whose tests carry its marker (``-m unit``, ``-m "not e2e"``),
#: in the order a full run takes them: fastest first, so that a broken unit test shows in
#: seconds rather than after the acceptance and browser tests.
TIERS = ("unit", "integration", "acceptance", "e2e")
TESTS = Path(__file__).parent

#: A fixture parameter that puts its tests on PostgreSQL (``-m postgres``, ``-m "not postgres"``).
ON_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


def tier_of(item: pytest.Item) -> str | None:
    """The tier folder a test lives in, or None for a test outside them."""
    if not item.path.is_relative_to(TESTS):
        return None
    folder = item.path.relative_to(TESTS).parts[0]
    return folder if folder in TIERS else None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    # Marked before the other hooks run, so that ``-m`` selects on the tier markers too
    # (``pytestmark`` in a conftest.py marks nothing); ordered after them, so that the
    # grouping of module-scoped fixtures pytest does within a tier is kept.
    for item in items:
        tier = tier_of(item)
        if tier is not None:
            item.add_marker(tier)
    yield
    order = {tier: i for i, tier in enumerate(TIERS)}
    items.sort(key=lambda item: order.get(tier_of(item) or "", len(TIERS)))


def postgres_problem() -> str | None:
    """None when PostgreSQL answers at POSTGRES_URI, else why not (checked once)."""
    if "problem" not in _pg_state:
        import asyncpg

        async def probe() -> None:
            conn = await asyncpg.connect(POSTGRES_URI, timeout=3)
            await conn.close()

        try:
            # Called from inside running event loops too: probe on a thread of its own.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, probe()).result()
            _pg_state["problem"] = None
        except Exception as exc:  # any failure to connect means "not available"
            _pg_state["problem"] = f"PostgreSQL not reachable at {POSTGRES_URI}: {exc!r}"
    return _pg_state["problem"]


def require_postgres() -> None:
    """Skip without PostgreSQL on a developer machine; fail in CI, where it must run."""
    problem = postgres_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI must run the PostgreSQL tests: {problem}")
    pytest.skip(problem)


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URI)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


def new_schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", ON_POSTGRES])
async def store(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Store]:
    """An open, empty store of each kind."""
    if request.param == "sqlite":
        s: Store = SQLiteStore(os.path.join(str(tmp_path), "outlast.db"))
        await s.open()
        yield s
        await s.close()
        return
    require_postgres()
    schema = new_schema()
    s = PostgresStore(POSTGRES_URI, schema=schema, min_size=1, max_size=5)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
        await drop_schema(schema)


@pytest.fixture
async def memory_store() -> AsyncIterator[Store]:
    s = SQLiteStore(":memory:")
    await s.open()
    yield s
    await s.close()
