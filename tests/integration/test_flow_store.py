"""Flow-control state in the store, on every store: concurrency-limited leasing, GCRA
rows, singleton holders, debounces."""

from __future__ import annotations

import asyncio
import dataclasses

from outlast.domain import QueueKind, RunRecord, RunStatus
from outlast.store import NewItem, NewRun, Store
from outlast.store.flow import PendingDebounce


def run(run_id: str, *limits: tuple[str, int]) -> NewRun:
    record = RunRecord(run_id, "app-fn", RunStatus.QUEUED, [{"name": "e", "data": {}}], "ev", 1)
    return NewRun(record, concurrency=limits)


async def queue_calls(store: Store, runs: list[NewRun], due: int = 100) -> None:
    async with store.tx() as s:
        await s.create_runs(runs)
        await s.enqueue([NewItem(QueueKind.DISCOVER, r.run.id, due) for r in runs])


async def leased(store: Store, now: int, limit: int = 100, owner: str = "w") -> list[str]:
    return [str(i.run_id) for i in await store.lease(owner, now, limit, 1000)]


async def test_a_key_never_has_more_calls_leased_than_its_limit(store: Store) -> None:
    await queue_calls(
        store, [run(f"a{i}", ("user:a", 2)) for i in range(5)] + [run("b0", ("user:b", 2))]
    )
    await queue_calls(store, [run("free")])
    first = {str(i.run_id): i for i in await store.lease("w", 200, 100, 1000)}
    assert sorted(first) == ["a0", "a1", "b0", "free"]  # FIFO within key a
    assert first["a0"].ckey == "user:a" and first["free"].ckey is None
    assert await leased(store, now=300) == []  # a is full; b and free have nothing left
    # A call of "a" ends: one slot, taken by the oldest waiting call of "a".
    async with store.tx() as s:
        await s.delete_item(first["a0"].id)
    assert await leased(store, now=400) == ["a2"]
    # Leases that ran out (their worker died) free their slots: every item is ready again,
    # and "a" gets its 2 slots back.
    again = await leased(store, now=5_000)
    assert len([r for r in again if r.startswith("a")]) == 2
    assert {"b0", "free"} <= set(again)


async def test_a_busy_key_with_many_waiting_calls_does_not_delay_another_key(store: Store) -> None:
    await queue_calls(store, [run(f"a{i}", ("user:a", 3)) for i in range(300)], due=100)
    await queue_calls(store, [run("b", ("user:b", 3))], due=150)
    # b was queued after 300 calls of a, yet it gets one of the first slots.
    assert sorted(await leased(store, now=200, limit=3)) == ["a0", "a1", "b"]
    assert await leased(store, now=250, limit=10) == ["a2"]


async def test_two_constraints_both_hold(store: Store) -> None:
    runs = [run(f"x{i}", ("fn:x", 5), ("acct:shared", 3)) for i in range(4)]
    runs += [run(f"y{i}", ("fn:y", 5), ("acct:shared", 3)) for i in range(4)]
    await queue_calls(store, runs)
    assert len(await leased(store, now=200)) == 3
    assert await leased(store, now=300) == []


async def test_two_workers_leasing_at_once_never_exceed_a_limit(store: Store) -> None:
    await queue_calls(store, [run(f"a{i}", ("user:a", 4)) for i in range(40)])
    got = await asyncio.gather(*(leased(store, now=200, limit=3, owner=f"w{i}") for i in range(6)))
    assert sum(len(g) for g in got) == 4


async def test_next_due_leaves_out_calls_waiting_for_a_slot(store: Store) -> None:
    await queue_calls(store, [run(f"a{i}", ("user:a", 1)) for i in range(3)], due=100)
    await leased(store, now=200)
    async with store.read() as r:
        # Two calls of "a" are due but blocked; the leased one is due at its lease's end.
        assert await r.next_due_at(250) == 1200


async def test_gcra_rows_lock_and_keep_the_arrival_time(store: Store) -> None:
    async with store.tx() as s:
        assert await s.lock_gcra("throttle:fn:") is None
        await s.set_gcra("throttle:fn:", 1234)
    async with store.tx() as s:
        assert await s.lock_gcra("throttle:fn:") == 1234


async def test_a_singleton_key_has_one_holder_until_released(store: Store) -> None:
    async with store.tx() as s:
        assert await s.claim_singleton("fn:k", "r1") is None
        assert await s.claim_singleton("fn:k", "r2") == "r1"
        await s.set_singleton("fn:k", "r2")
        await s.release_singleton("r1")  # not the holder any more: nothing changes
        assert await s.claim_singleton("fn:k", "r3") == "r2"
        await s.release_singleton("r2")
        assert await s.claim_singleton("fn:k", "r3") is None


async def test_a_debounce_keeps_its_first_time_and_the_last_event(store: Store) -> None:
    first = PendingDebounce("fn:k", "app-fn", "e1", {"name": "e", "data": {"n": 1}}, 100, 1100)
    async with store.tx() as s:
        assert await s.lock_debounce("fn:k") is None
        await s.put_debounce(first)
        await s.put_debounce(
            dataclasses.replace(
                first, event_id="e2", event={"name": "e"}, first_at=500, due_at=1500
            )
        )
    async with store.tx() as s:
        taken = await s.take_debounce("fn:k")
        assert taken is not None
        assert (taken.event_id, taken.first_at, taken.due_at) == ("e2", 100, 1500)
        assert await s.take_debounce("fn:k") is None
