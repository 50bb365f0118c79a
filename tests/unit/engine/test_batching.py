"""batchEvents: batches per key, full batches start at once, partial ones at their timeout,
events failing the batch's ``if`` run alone (in-memory store)."""

from __future__ import annotations

from outlast.domain import EventRecord, QueueKind, RunRecord
from outlast.store import Store

from .conftest import MakeMachine, function

BULK = function(
    "app-bulk",
    "bulk",
    "order",
    batchEvents={
        "maxSize": 3,
        "timeout": "5s",
        "key": "event.data.shop",
        "if": "event.data.amount < 1000",
    },
)


def order(i: int, shop: str, amount: int = 10) -> EventRecord:
    payload = {"name": "order", "data": {"n": i, "shop": shop, "amount": amount}}
    return EventRecord(f"01EV{i:04d}", "order", {**payload, "id": f"e{i}"}, 1_000 + i)


def ns(run: RunRecord) -> list[int]:
    return [e["data"]["n"] for e in run.events]


async def test_a_full_batch_starts_at_once_per_key(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(BULK)
    async with memory_store.tx() as s:
        started = await m.ingest(s, [order(1, "a"), order(2, "b"), order(3, "a")], 1_000)
        assert started == []
        [run] = await m.ingest(s, [order(4, "a")], 1_100)
    assert ns(run) == [1, 3, 4]
    assert run.batch_id is not None and run.event_id == "01EV0001"


async def test_one_request_fills_batches_of_max_size_never_more(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(BULK)
    async with memory_store.tx() as s:
        started = await m.ingest(s, [order(i, "a") for i in range(1, 8)], 1_000)
    assert [ns(run) for run in started] == [[1, 2, 3], [4, 5, 6]]
    # 7 waits in a new batch, started by its timer.
    leased = await memory_store.lease("test", 6_000, 10, 1000)
    [timer] = [i for i in leased if i.kind is QueueKind.BATCH]
    async with memory_store.tx() as s:
        await m.fire(s, timer, 6_000)
    async with memory_store.read() as r:
        [run] = await r.runs_for_event("01EV0007")
    assert ns(run) == [7]


async def test_a_partial_batch_starts_at_its_timeout(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(BULK)
    async with memory_store.tx() as s:
        await m.ingest(s, [order(1, "a"), order(2, "a")], 1_000)
    assert [i for i in await memory_store.lease("test", 5_999, 10, 1000)] == []
    [timer] = await memory_store.lease("test", 6_000, 10, 1000)
    assert timer.kind is QueueKind.BATCH
    async with memory_store.tx() as s:
        await m.fire(s, timer, 6_000)
    async with memory_store.read() as r:
        [run] = await r.runs_for_event("01EV0002")
    assert ns(run) == [1, 2] and run.queued_at == 6_000


async def test_events_failing_the_batch_condition_run_alone(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(BULK)
    async with memory_store.tx() as s:
        [run] = await m.ingest(s, [order(1, "a", amount=5000), order(2, "a")], 1_000)
    assert ns(run) == [1] and run.batch_id is None


async def test_a_batch_filled_before_its_timer_is_not_started_twice(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(BULK)
    async with memory_store.tx() as s:
        await m.ingest(s, [order(1, "a")], 1_000)
    [timer] = await memory_store.lease("test", 6_000, 10, 1000)
    async with memory_store.tx() as s:
        [run] = await m.ingest(s, [order(2, "a"), order(3, "a")], 2_000)
        # The timer was leased before the batch filled: firing it now starts nothing.
        await m.fire(s, timer, 6_000)
    async with memory_store.read() as r:
        assert [x.id for x in await r.runs_for_event("01EV0001")] == [run.id]
