"""Server processes sharing a store: the items of one that stopped refreshing its row are
freed for the others; a live one keeps its own."""

from __future__ import annotations

from outlast.domain import QueueKind
from outlast.store import NewItem, Store


async def test_the_items_of_a_silent_process_are_taken_over(store: Store) -> None:
    async with store.tx() as s:
        await s.enqueue([NewItem(QueueKind.DISCOVER, r, due_at=0) for r in ("r1", "r2", "r3")])
    mine = await store.lease("alive", now=0, limit=1, lease_ms=20_000)
    theirs = await store.lease("killed", now=0, limit=2, lease_ms=20_000)
    assert len(mine) == 1 and len(theirs) == 2
    async with store.tx() as s:
        await s.beat("killed", 1_000)
        await s.beat("alive", 1_000)
        await s.beat("alive", 5_500)  # only one process kept beating
        assert await s.take_over(5_000, 4_000) == []  # not silent long enough yet
        assert await s.take_over(6_000, 4_000) == ["killed"]
        assert await s.take_over(6_100, 4_000) == []  # forgotten once taken over
    # Due at once for anyone; the live process's item stays leased to it.
    taken = await store.lease("other", now=6_000, limit=3, lease_ms=20_000)
    assert sorted(i.id for i in taken) == sorted(i.id for i in theirs)


async def test_a_process_that_leaves_is_forgotten(store: Store) -> None:
    async with store.tx() as s:
        await s.beat("w", 1_000)
        await s.leave("w")
        assert await s.take_over(100_000, 4_000) == []
