"""The queue (everything due later, including timers) and waits."""

from __future__ import annotations

from collections.abc import Sequence

from outlast.domain import CALL_KINDS, QueueItem, QueueKind, Wait, WaitKind
from outlast.store.conn import Row
from outlast.store.rows import ITEM_COLS, WAIT_COLS, NewItem, Queries, item_row, j, wait_row
from outlast.store.step_finished import REUSE_ITEM, positional

#: Items extended per heartbeat statement.
LEASE_CHUNK = 500
_INSERT_COLS = "run_id, kind, step, payload, attempt, due_at, dedupe_key, lease_owner"


class QueueQueries(Queries):
    # -- queue ----------------------------------------------------------------------------

    async def enqueue(self, items: Sequence[NewItem]) -> None:
        for it in items:
            await self._insert_item(it, "")

    async def enqueue_one(self, it: NewItem) -> QueueItem | None:
        """Insert one item and return it (None when its dedupe key is taken)."""
        r = await self._insert_item(it, f" RETURNING {ITEM_COLS}")
        return None if r is None else item_row(r)

    async def _insert_item(self, it: NewItem, returning: str) -> Row | None:
        if it.lease_owner is None:
            self.queued(it.due_at)
        values = (
            it.run_id,
            it.kind.value,
            it.step,
            j(it.payload),
            it.attempt,
            it.due_at,
            it.dedupe_key,
            it.lease_owner,
        )
        if it.kind in CALL_KINDS:
            # A call counts under its run's concurrency keys: copied from the run's row.
            sql = (
                f"INSERT INTO queue ({_INSERT_COLS}, ckey, climit, ckey2, climit2) "
                "SELECT ?, ?, ?, ?, ?, ?, ?, ?, r.ckey, r.climit, r.ckey2, r.climit2 "
                "FROM (SELECT 1 AS one) AS o LEFT JOIN runs r ON r.id = ? "
                f"WHERE true ON CONFLICT (dedupe_key) DO NOTHING{returning}"
            )
            return await self.c.fetchone(sql, (*values, it.run_id))
        sql = (
            f"INSERT INTO queue ({_INSERT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (dedupe_key) DO NOTHING{returning}"
        )
        return await self.c.fetchone(sql, values)

    async def reuse_item(self, item_id: int, due_at: int, owner: str) -> QueueItem | None:
        """Turn a finished call's item into the run's next discovery call, leased by
        ``owner`` (one statement where delete + insert would take two)."""
        values = {"due": due_at, "owner": owner, "item": item_id}
        sql, names = positional(REUSE_ITEM)
        r = await self.c.fetchone(sql, [values[n] for n in names])
        return None if r is None else item_row(r)

    async def get_item(self, item_id: int) -> QueueItem | None:
        r = await self.c.fetchone(f"SELECT {ITEM_COLS} FROM queue WHERE id = ?", (item_id,))
        return None if r is None else item_row(r)

    async def delete_item(self, item_id: int) -> bool:
        return await self.c.execute("DELETE FROM queue WHERE id = ?", (item_id,)) > 0

    async def delete_item_by_key(self, dedupe_key: str) -> bool:
        return await self.c.execute("DELETE FROM queue WHERE dedupe_key = ?", (dedupe_key,)) > 0

    async def retry_item(self, item_id: int, due_at: int, attempt: int) -> None:
        await self.c.execute(
            "UPDATE queue SET due_at = ?, attempt = ?, lease_owner = NULL WHERE id = ?",
            (due_at, attempt, item_id),
        )

    async def pending_steps(self, run_id: str) -> int:
        """How many steps of the run's parallel group are still out: planned steps to run,
        requests the server sends for steps (``step.ai.infer``), sleeps, waits and invokes.
        The run is called again when none is (Inngest's request pattern: one discovery call
        per group). Steps planned in race mode are left out: each moves the run on by
        itself, and a race's losers may stay out.

        A race step's or sleep's queue item carries a payload (``{"race": true}``); a
        wait's timeout timer carries its memo and is counted through its wait row."""
        r = await self.c.fetchone(
            "SELECT (SELECT COUNT(*) FROM queue WHERE run_id = ? AND (kind = ? OR "
            "(kind IN (?, ?) AND payload IS NULL))) + (SELECT COUNT(*) FROM waits "
            "WHERE run_id = ? AND kind IN (?, ?) AND race = 0)",
            (
                run_id,
                QueueKind.GATEWAY.value,
                QueueKind.STEP.value,
                QueueKind.RESUME.value,
                run_id,
                WaitKind.WAIT.value,
                WaitKind.INVOKE.value,
            ),
        )
        return int(r[0]) if r else 0

    async def next_due_at(self, now: int) -> int | None:
        """When the next item becomes ready. Items under a concurrency limit that are due
        already are left out: they wait for a slot, and a finished call wakes the loop."""
        free = await self.c.fetchone("SELECT MIN(due_at) FROM queue WHERE ckey IS NULL")
        keyed = await self.c.fetchone(
            "SELECT MIN(due_at) FROM queue WHERE ckey IS NOT NULL AND due_at > ?", (now,)
        )
        times = [int(r[0]) for r in (free, keyed) if r is not None and r[0] is not None]
        return min(times) if times else None

    async def extend_leases(self, owner: str, until: int, item_ids: Sequence[int]) -> None:
        """Keep these items leased until ``until``, those of them the owner still leases:
        the ones it is working on. An item it leased and no longer works on (its work
        failed) is left to expire, so another worker takes it.

        Rows another transaction holds are passed over: that transaction is finishing the
        item (deleting or reusing it), and locking the owner's rows in one statement while
        it waited on them would deadlock with a group commit holding several items."""
        ids = sorted(set(item_ids))
        for start in range(0, len(ids), LEASE_CHUNK):
            chunk = ids[start : start + LEASE_CHUNK]
            marks = ", ".join("?" * len(chunk))
            await self.c.execute(
                "UPDATE queue SET due_at = ? WHERE id IN (SELECT id FROM queue "
                f"WHERE id IN ({marks}) AND lease_owner = ? AND due_at < ?"
                f"{self.dialect.skip_locked})",
                (until, *chunk, owner, until),
            )

    async def release_item(self, item_id: int, owner: str, due_at: int) -> None:
        """Give up a leased item (its work failed, not because of the app): due again at
        ``due_at`` for any worker, its attempt unchanged."""
        await self.c.execute(
            "UPDATE queue SET due_at = ?, lease_owner = NULL WHERE id = ? AND lease_owner = ?",
            (due_at, item_id, owner),
        )

    async def queue_size(self) -> int:
        r = await self.c.fetchone("SELECT COUNT(*) FROM queue")
        return int(r[0]) if r else 0

    # -- waits ----------------------------------------------------------------------------

    async def insert_waits(self, waits: Sequence[Wait]) -> None:
        for w in waits:
            await self.c.execute(
                "INSERT INTO waits (run_id, kind, step, event_name, expression, event, "
                "correlation_id, expires_at, race) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    w.run_id,
                    w.kind.value,
                    w.step,
                    w.event_name,
                    w.expression,
                    j(w.event),
                    w.correlation_id,
                    w.expires_at,
                    int(w.race),
                ),
            )

    async def waits_for_events(self, names: Sequence[str]) -> list[Wait]:
        if not names:
            return []
        marks = ", ".join("?" for _ in names)
        rows = await self.c.fetch(
            f"SELECT {WAIT_COLS} FROM waits WHERE event_name IN ({marks}) ORDER BY id",
            list(names),
        )
        return [wait_row(r) for r in rows]

    async def wait_for_correlation(self, correlation_id: str) -> Wait | None:
        r = await self.c.fetchone(
            f"SELECT {WAIT_COLS} FROM waits WHERE correlation_id = ?", (correlation_id,)
        )
        return None if r is None else wait_row(r)

    async def last_step_end(self, run_id: str) -> int | None:
        """When the run's most recently finished step finished (None before any)."""
        r = await self.c.fetchone(
            "SELECT MAX(ended_at) FROM steps WHERE run_id = ? AND done = 1", (run_id,)
        )
        return None if r is None or r[0] is None else int(r[0])

    async def wait_of_step(self, run_id: str, step_hash: str) -> Wait | None:
        """The event wait a run's step has registered, if any."""
        r = await self.c.fetchone(
            f"SELECT {WAIT_COLS} FROM waits WHERE run_id = ? AND step = ? AND kind = ?",
            (run_id, step_hash, WaitKind.WAIT.value),
        )
        return None if r is None else wait_row(r)

    async def take_wait(self, run_id: str, step_hash: str) -> Wait | None:
        """Remove a run's wait on a step: the wait, for the one caller that removed it."""
        r = await self.c.fetchone(
            "DELETE FROM waits WHERE run_id = ? AND step = ? AND kind IN (?, ?) "
            f"RETURNING {WAIT_COLS}",
            (run_id, step_hash, WaitKind.WAIT.value, WaitKind.INVOKE.value),
        )
        return wait_row(r) if r is not None else None
