"""Leasing ready queue items, with concurrency limits enforced by the store.

An item is ready when ``due_at <= now``; leasing moves ``due_at`` to the lease's end and
sets ``lease_owner``, so an item whose worker died is ready again once its lease runs out.
A call item (discover / step) of a run under ``concurrency`` carries up to two keys with
their limits (``ckey``/``climit``, ``ckey2``/``climit2``). A key's *busy* count is the
number of items with that key leased and not expired; an item is leased only while every
key it has is below its limit. Candidates are taken round-robin across keys (the first
ready item of every key, then the second ...) and oldest first within a key: FIFO within
a key, fair across keys, so a key with 10,000 queued items delays no other key.

Unlimited items (no key) are leased as before: oldest first, one statement. The keyed
part reads busy counts and then leases, so it runs under the dialect's
``keyed_lease_lock`` (PostgreSQL: a transaction-level advisory lock): two processes cannot
both see the same free slot.
"""

from __future__ import annotations

import itertools
from collections import Counter

from outlast.domain import QueueItem
from outlast.store.conn import Conn
from outlast.store.dialect import Dialect
from outlast.store.rows import ITEM_COLS, item_row

#: The earliest due time of a keyed item. MIN over the partial index is one index probe
#: whatever the planner's statistics say; "any keyed item due <= now" is not (without
#: statistics, PostgreSQL scanned the whole queue for it, timers included).
KEYED_FIRST_DUE = "SELECT MIN(due_at) FROM queue WHERE ckey IS NOT NULL"
_FREE = (
    "SELECT id, due_at FROM queue WHERE ckey IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?"
)
_BUSY = (
    "SELECT ckey, ckey2 FROM queue WHERE ckey IS NOT NULL AND lease_owner IS NOT NULL "
    "AND due_at > ?"
)
# Per key, its first ``climit - busy`` ready items, round-robin across keys.
_KEYED = """
WITH busy AS (
    SELECT k, COUNT(*) AS n FROM (
        SELECT ckey AS k FROM queue
        WHERE ckey IS NOT NULL AND lease_owner IS NOT NULL AND due_at > ?
        UNION ALL
        SELECT ckey2 AS k FROM queue
        WHERE ckey2 IS NOT NULL AND lease_owner IS NOT NULL AND due_at > ?
    ) AS leased GROUP BY k
), ready AS (
    SELECT id, due_at, ckey, climit, ckey2, climit2,
           ROW_NUMBER() OVER (PARTITION BY ckey ORDER BY due_at, id) AS rn
    FROM queue WHERE ckey IS NOT NULL AND due_at <= ?
)
SELECT r.id, r.due_at, r.ckey, r.climit, r.ckey2, r.climit2
FROM ready r LEFT JOIN busy b ON b.k = r.ckey
WHERE r.rn <= r.climit - COALESCE(b.n, 0)
ORDER BY r.rn, r.due_at, r.id
LIMIT ?
"""


async def lease(
    c: Conn,
    owner: str,
    now: int,
    limit: int,
    lease_ms: int,
    dialect: Dialect,
) -> list[QueueItem]:
    """Lease up to ``limit`` ready items for ``lease_ms``; run inside a transaction.

    Unlimited items pass over rows another transaction holds (``dialect.skip_locked``)."""
    free = [int(r[0]) for r in await c.fetch(_FREE + dialect.skip_locked, (now, limit))]
    keyed: list[int] = []
    first = await c.fetchone(KEYED_FIRST_DUE)
    if first is not None and first[0] is not None and first[0] <= now:
        if dialect.keyed_lease_lock is not None:
            await c.execute(dialect.keyed_lease_lock)
        keyed = await _keyed(c, now, limit)
    # Alternate the two lists (each in its own fair order) so neither starves the other.
    ids = [i for pair in itertools.zip_longest(free, keyed) for i in pair if i is not None]
    ids = ids[:limit]
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows = await c.fetch(
        f"UPDATE queue SET due_at = ?, lease_owner = ? WHERE id IN ({marks}) AND due_at <= ? "
        f"RETURNING {ITEM_COLS}",
        (now + lease_ms, owner, *ids, now),
    )
    return sorted((item_row(tuple(r)) for r in rows), key=lambda i: i.id)


def lease_free_sql(dialect: Dialect) -> str:
    """One statement that leases ready unlimited items, for when no keyed item is ready:
    (until, owner, now, limit) -> the leased items' ``ITEM_COLS``."""
    return (
        "UPDATE queue SET due_at = ?, lease_owner = ? WHERE id IN "
        "(SELECT id FROM queue WHERE due_at <= ? AND ckey IS NULL "
        f"ORDER BY due_at, id LIMIT ?{dialect.skip_locked}) "
        f"RETURNING {ITEM_COLS}"
    )


async def _keyed(c: Conn, now: int, limit: int) -> list[int]:
    """The ids of the keyed items that fit their limits, fairest first."""
    busy: Counter[str] = Counter()
    for k1, k2 in await c.fetch(_BUSY, (now,)):
        busy[k1] += 1
        if k2 is not None:
            busy[k2] += 1
    picked: list[int] = []
    for item_id, _due, k1, l1, k2, l2 in await c.fetch(_KEYED, (now, now, now, limit)):
        if busy[k1] >= l1 or (k2 is not None and busy[k2] >= l2):
            continue
        busy[k1] += 1
        if k2 is not None:
            busy[k2] += 1
        picked.append(int(item_id))
    return picked
