"""Apps and their functions: what ``PUT /fn/register`` (sync) writes and every server
process reads to build its function registry."""

from __future__ import annotations

from collections.abc import Sequence

from outlast.domain import App, FunctionRecord
from outlast.protocol.jsonutil import dumps_str, loads
from outlast.store.rows import Queries


class AppQueries(Queries):
    async def get_app(self, app_id: str) -> App | None:
        r = await self.c.fetchone(
            "SELECT id, url, sdk, framework, checksum, synced_at, error FROM apps WHERE id = ?",
            (app_id,),
        )
        return None if r is None else App(*r)

    async def list_apps(self) -> list[App]:
        rows = await self.c.fetch(
            "SELECT id, url, sdk, framework, checksum, synced_at, error FROM apps ORDER BY id"
        )
        return [App(*r) for r in rows]

    async def put_app(self, app: App, functions: Sequence[FunctionRecord], now: int) -> None:
        """Replace an app and its functions (pause flags of kept functions survive)."""
        await self.c.execute(
            "INSERT INTO apps (id, url, sdk, framework, checksum, synced_at, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET url = excluded.url, "
            "sdk = excluded.sdk, framework = excluded.framework, checksum = excluded.checksum, "
            "synced_at = excluded.synced_at, error = excluded.error",
            (app.id, app.url, app.sdk, app.framework, app.checksum, app.synced_at, app.error),
        )
        keep = [f.id for f in functions]
        existing = await self.c.fetch("SELECT id FROM functions WHERE app_id = ?", (app.id,))
        for (fid,) in existing:
            if fid not in keep:
                await self.c.execute("DELETE FROM functions WHERE id = ?", (fid,))
        for f in functions:
            await self.c.execute(
                "INSERT INTO functions (id, app_id, name, config, paused, updated_at) "
                "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (id) DO UPDATE SET "
                "app_id = excluded.app_id, name = excluded.name, config = excluded.config, "
                "updated_at = excluded.updated_at",
                (f.id, f.app_id, f.name, dumps_str(f.config), now),
            )

    async def set_app_error(self, app_id: str, error: str | None) -> None:
        await self.c.execute("UPDATE apps SET error = ? WHERE id = ?", (error, app_id))

    async def delete_app(self, app_id: str) -> bool:
        await self.c.execute("DELETE FROM functions WHERE app_id = ?", (app_id,))
        return await self.c.execute("DELETE FROM apps WHERE id = ?", (app_id,)) > 0

    async def list_functions(self) -> list[FunctionRecord]:
        rows = await self.c.fetch(
            "SELECT id, app_id, name, config, paused FROM functions ORDER BY id"
        )
        return [FunctionRecord(r[0], r[1], r[2], loads(r[3]), bool(r[4])) for r in rows]

    async def functions_version(self) -> tuple[int, int]:
        """Changes whenever functions change: (count, newest update)."""
        r = await self.c.fetchone("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM functions")
        assert r is not None
        return int(r[0]), int(r[1])
