"""The dashboard's sessions on every store: a login holds until it expires or is removed,
and another server process on the same database (a second store over it) sees both."""

from __future__ import annotations

from outlast.store import Store
from outlast.store.postgres import PostgresStore
from outlast.store.sqlite import SQLiteStore

NOW = 1_700_000_000_000
HOUR = 3_600_000


def another_process(store: Store) -> Store:
    """A second store over the same database, as another server process would open it."""
    if isinstance(store, PostgresStore):
        return PostgresStore(store.dsn, schema=store.schema, min_size=1, max_size=2)
    assert isinstance(store, SQLiteStore)
    return SQLiteStore(store.path)


async def holds(store: Store, login_id: str, now: int = NOW) -> bool:
    async with store.read() as s:
        return await s.login_holds(login_id, now)


async def test_a_login_holds_until_it_expires_or_is_removed(store: Store) -> None:
    async with store.tx() as s:
        await s.add_login("a", NOW + HOUR, NOW)
        await s.add_login("b", NOW + HOUR, NOW)
    assert await holds(store, "a") and await holds(store, "b")
    assert not await holds(store, "a", now=NOW + HOUR)  # expired
    assert not await holds(store, "never-opened")

    async with store.tx() as s:
        assert await s.remove_login("a")
        assert not await s.remove_login("a")
    assert not await holds(store, "a")
    assert await holds(store, "b")  # one logout ends its own session only


async def test_a_login_drops_the_expired_sessions(store: Store) -> None:
    async with store.tx() as s:
        await s.add_login("old", NOW + HOUR, NOW)
        await s.add_login("new", NOW + 3 * HOUR, NOW)
    async with store.tx() as s:
        await s.add_login("later", NOW + 5 * HOUR, NOW + 2 * HOUR)
    async with store.read() as s:
        rows = await s.c.fetch("SELECT id FROM dashboard_logins ORDER BY id")
    assert [r[0] for r in rows] == ["later", "new"]


async def test_a_logout_is_seen_by_every_process_on_the_database(store: Store) -> None:
    other = another_process(store)
    await other.open()
    try:
        async with store.tx() as s:
            await s.add_login("shared", NOW + HOUR, NOW)
        assert await holds(other, "shared")  # a login here opens the other process too
        async with other.tx() as s:
            assert await s.remove_login("shared")
        assert not await holds(store, "shared")  # and a logout there ends it here
    finally:
        await other.close()
