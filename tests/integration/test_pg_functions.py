"""PostgreSQL's fast-path functions are (re)created at open from their one source."""

from __future__ import annotations

import asyncpg

from outlast.store import pg_functions
from outlast.store.postgres import PostgresStore
from tests.conftest import POSTGRES_URI, drop_schema, new_schema, require_postgres


async def bodies(schema: str) -> dict[str, str]:
    conn = await asyncpg.connect(POSTGRES_URI)
    try:
        rows = await conn.fetch(
            "SELECT p.proname, p.prosrc FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1",
            schema,
        )
        return {r[0]: r[1] for r in rows}
    finally:
        await conn.close()


async def test_an_upgraded_database_gets_the_current_functions_once() -> None:
    """A database whose functions came from an older text (migrations 0006 and 0008 of an
    earlier version) has them replaced at its next open; an open that finds them current
    changes nothing."""
    require_postgres()
    schema = new_schema()
    try:
        async with PostgresStore(POSTGRES_URI, schema=schema, min_size=1, max_size=1):
            pass
        want = {name: body for name, (_h, body) in pg_functions.FUNCTIONS.items()}
        assert await bodies(schema) == want
        conn = await asyncpg.connect(POSTGRES_URI, server_settings={"search_path": schema})
        try:
            # What an older version left: same signature, another body.
            await conn.execute(
                "CREATE OR REPLACE FUNCTION outlast_checkpoint(p_run TEXT, p_item BIGINT, "
                "p_attempt BIGINT, p_hash TEXT, p_name TEXT, p_op TEXT, p_memo TEXT, "
                "p_started BIGINT, p_now BIGINT) RETURNS TEXT LANGUAGE plpgsql AS "
                "$$ BEGIN RETURN 'old'; END; $$"
            )
            assert (await bodies(schema))["outlast_checkpoint"] != want["outlast_checkpoint"]
            async with PostgresStore(POSTGRES_URI, schema=schema, min_size=1, max_size=1):
                pass
            assert await bodies(schema) == want
            assert await pg_functions.ensure(conn) == []
        finally:
            await conn.close()
    finally:
        await drop_schema(schema)
