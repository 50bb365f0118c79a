"""The dashboard's sessions (migration 0009): a random id per login and until when it
holds. The cookie carries the id (``server/auth.py``); a row that is gone, because its
browser logged out or it expired, opens nothing, on every server process at once."""

from __future__ import annotations

from outlast.store.rows import Queries


class LoginQueries(Queries):
    async def add_login(self, login_id: str, expires_at: int, now: int) -> None:
        """Open a session until ``expires_at`` (unix ms); drop the expired ones on the way.

        Cleaning up here, not in a timer, keeps the table as small as the logins of one
        session lifetime with no extra work when nobody logs in.
        """
        await self.c.execute("DELETE FROM dashboard_logins WHERE expires_at <= ?", (now,))
        await self.c.execute(
            "INSERT INTO dashboard_logins (id, expires_at) VALUES (?, ?)", (login_id, expires_at)
        )

    async def login_holds(self, login_id: str, now: int) -> bool:
        """Whether the session is open: not logged out and not expired at ``now``."""
        r = await self.c.fetchone(
            "SELECT 1 FROM dashboard_logins WHERE id = ? AND expires_at > ?", (login_id, now)
        )
        return r is not None

    async def remove_login(self, login_id: str) -> bool:
        """End a session (log out); False when it was not open."""
        return await self.c.execute("DELETE FROM dashboard_logins WHERE id = ?", (login_id,)) > 0
