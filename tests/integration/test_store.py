"""One behaviour suite, run against every store (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses

from outlast.domain import (
    App,
    EventRecord,
    FunctionRecord,
    QueueKind,
    RunRecord,
    RunStatus,
    StepStatus,
    Wait,
    WaitKind,
)
from outlast.store import NewItem, NewRun, Store
from outlast.store.rows import StepDone


def run_record(run_id: str, fn: str = "app-fn", now: int = 1000) -> RunRecord:
    return RunRecord(
        id=run_id,
        function_id=fn,
        status=RunStatus.QUEUED,
        events=[{"name": "e", "data": {"n": 1}}],
        event_id="ev1",
        queued_at=now,
    )


async def test_events_insert_once_and_list_newest_first(store: Store) -> None:
    evs = [EventRecord(f"0{i}", "e", {"name": "e", "data": {"i": i}}, 10 + i) for i in range(3)]
    async with store.tx() as s:
        assert await s.insert_events(evs) == {"00", "01", "02"}
        # A retried send carries the same internal ids: nothing new.
        assert await s.insert_events(evs[:2]) == set()
    async with store.read() as r:
        listed = await r.list_events(limit=2)
        assert [e.internal_id for e in listed] == ["02", "01"]
        older = await r.list_events(before="01", limit=10)
        assert [e.internal_id for e in older] == ["00"]
        got = await r.get_event("01")
        assert got is not None and got.payload["data"] == {"i": 1}


async def test_run_keys_block_a_second_run_until_they_expire(store: Store) -> None:
    async with store.tx() as s:
        first = await s.create_runs([NewRun(run_record("r1", now=1000), (("k", 5000),))])
        dup = await s.create_runs([NewRun(run_record("r2", now=2000), (("k", 6000),))])
        later = await s.create_runs([NewRun(run_record("r3", now=7000), (("k", 9000),))])
        other_fn = await s.create_runs([NewRun(run_record("r4", fn="other"), (("k", 5000),))])
    assert [r.id for r in first] == ["r1"]
    assert dup == []
    assert [r.id for r in later] == ["r3"]
    assert [r.id for r in other_fn] == ["r4"]


async def test_lease_takes_ready_items_once_and_expired_leases_come_back(store: Store) -> None:
    async with store.tx() as s:
        await s.enqueue(
            [
                NewItem(QueueKind.DISCOVER, "r1", due_at=100),
                NewItem(QueueKind.DISCOVER, "r2", due_at=200),
                NewItem(QueueKind.DISCOVER, "r3", due_at=10_000),
            ]
        )
    first = await store.lease("a", now=500, limit=10, lease_ms=1000)
    assert [i.run_id for i in first] == ["r1", "r2"]
    assert await store.lease("b", now=600, limit=10, lease_ms=1000) == []
    # Owner "a" died: at 1500 its lease has run out and "b" gets the items.
    again = await store.lease("b", now=1600, limit=10, lease_ms=1000)
    assert sorted(i.run_id for i in again) == ["r1", "r2"]
    async with store.read() as r:
        assert await r.next_due_at(0) == 2600


async def test_extend_leases_keeps_items_of_a_live_worker(store: Store) -> None:
    async with store.tx() as s:
        await s.enqueue([NewItem(QueueKind.DISCOVER, "r1", due_at=0)])
    [item] = await store.lease("a", now=0, limit=1, lease_ms=1000)
    async with store.tx() as s:
        await s.extend_leases("a", 5000, [item.id])
    assert await store.lease("b", now=2000, limit=1, lease_ms=1000) == []
    async with store.tx() as s:
        assert await s.delete_item(item.id)


async def test_extend_leases_passes_over_items_the_worker_no_longer_works_on(
    store: Store,
) -> None:
    """An item whose work failed is not kept leased by the heartbeat: its lease runs out
    and another worker takes it. A released one is due again at once for anyone."""
    async with store.tx() as s:
        await s.enqueue([NewItem(QueueKind.DISCOVER, r, due_at=0) for r in ("r1", "r2", "r3")])
    items = {i.run_id: i for i in await store.lease("a", now=0, limit=3, lease_ms=1000)}
    async with store.tx() as s:
        await s.extend_leases("a", 5000, [items["r1"].id])
        await s.release_item(items["r3"].id, "a", 1500)
        await s.release_item(items["r1"].id, "someone-else", 1500)  # not theirs: no effect
    taken = await store.lease("b", now=2000, limit=3, lease_ms=1000)
    assert sorted(i.run_id or "" for i in taken) == ["r2", "r3"]


async def test_extending_leases_passes_over_items_another_transaction_holds(
    store: Store,
) -> None:
    """The heartbeat must not wait on (and deadlock with) a transaction finishing several
    items: it extends the others and leaves the held one to that transaction."""
    async with store.tx() as s:
        await s.enqueue([NewItem(QueueKind.DISCOVER, r, due_at=0) for r in ("r1", "r2")])
    items = {i.run_id: i for i in await store.lease("a", now=0, limit=2, lease_ms=1000)}
    held = asyncio.Event()
    release = asyncio.Event()

    async def finishing() -> None:
        async with store.tx() as s:
            await s.delete_item(items["r1"].id)
            held.set()
            await release.wait()

    task = asyncio.create_task(finishing())
    await held.wait()
    if store.shared:  # SQLite has one writer: nothing else can be in a transaction now
        async with asyncio.timeout(5), store.tx() as s:
            await s.extend_leases("a", 5000, [i.id for i in items.values()])
    release.set()
    await task
    if not store.shared:
        async with store.tx() as s:
            await s.extend_leases("a", 5000, [i.id for i in items.values()])
    # r2's lease was extended; r1 is gone.
    assert await store.lease("b", now=2000, limit=2, lease_ms=1000) == []
    async with store.read() as r:
        assert await r.queue_size() == 1


async def test_dedupe_key_allows_one_item(store: Store) -> None:
    async with store.tx() as s:
        await s.enqueue([NewItem(QueueKind.CRON, None, 5, dedupe_key="cron:f:1")])
        await s.enqueue([NewItem(QueueKind.CRON, None, 5, dedupe_key="cron:f:1")])
        assert await s.enqueue_one(NewItem(QueueKind.CRON, None, 5, dedupe_key="cron:f:1")) is None
        assert await s.queue_size() == 1


async def test_step_completes_once_and_stack_keeps_completion_order(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs([NewRun(run_record("r1"))])
        await s.upsert_step("r1", "b", name="b", op="StepPlanned", status=StepStatus.PLANNED, now=1)
    for h in ("b", "a"):
        async with store.tx() as s:
            done = await s.complete_step(
                "r1",
                h,
                name=h,
                op="StepRun",
                memo={"data": h.upper()},
                status=StepStatus.COMPLETED,
                now=10,
                started_at=5,
                attempts=1,
            )
            assert done
    async with store.tx() as s:
        again = await s.complete_step(
            "r1",
            "a",
            name="a",
            op="StepRun",
            memo={"data": "changed"},
            status=StepStatus.COMPLETED,
            now=20,
            started_at=5,
            attempts=2,
        )
        assert not again
    async with store.read() as r:
        run = await r.get_run("r1")
        assert run is not None and run.stack == ["b", "a"]
        assert await r.load_memos("r1") == {"a": {"data": "A"}, "b": {"data": "B"}}
        steps = {st.hash: st for st in await r.list_steps("r1")}
        assert steps["a"].status is StepStatus.COMPLETED and steps["a"].attempts == 1


async def test_a_resolved_wait_keeps_the_op_it_was_recorded_with(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs([NewRun(run_record("r1"))])
        await s.upsert_step(
            "r1", "w", name="reply", op="WaitForEvent", status=StepStatus.WAITING, now=1
        )
        await s.complete_step(
            "r1",
            "w",
            name=None,
            op="",
            memo=None,
            status=StepStatus.COMPLETED,
            now=2,
            started_at=None,
            attempts=1,
        )
    async with store.read() as r:
        [step] = await r.list_steps("r1")
    assert (step.op, step.name, step.status) == ("WaitForEvent", "reply", StepStatus.COMPLETED)


async def test_parallel_completions_of_one_run_lose_nothing(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs([NewRun(run_record("r1"))])

    async def complete(h: str) -> None:
        async with store.tx() as s:
            await s.lock_run("r1")
            await s.complete_step(
                "r1",
                h,
                name=h,
                op="StepRun",
                memo={"data": h},
                status=StepStatus.COMPLETED,
                now=10,
                started_at=5,
                attempts=1,
            )

    await asyncio.gather(*(complete(f"s{i}") for i in range(10)))
    async with store.read() as r:
        run = await r.get_run("r1")
        assert run is not None and sorted(run.stack) == sorted(f"s{i}" for i in range(10))


async def test_finish_run_clears_its_queue_items_and_waits_once(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs([NewRun(run_record("r1"))])
        await s.enqueue([NewItem(QueueKind.RESUME, "r1", 99, step="x")])
        await s.insert_waits([Wait(0, "r1", WaitKind.WAIT, "x", "go", None, None, None, 5000)])
    async with store.tx() as s:
        assert await s.finish_run("r1", RunStatus.CANCELLED, 50)
        assert not await s.finish_run("r1", RunStatus.COMPLETED, 60, output=1)
        assert await s.queue_size() == 0
        assert await s.waits_for_events(["go"]) == []
    async with store.read() as r:
        run = await r.get_run("r1")
        assert run is not None and run.status is RunStatus.CANCELLED and run.ended_at == 50


async def test_a_wait_is_taken_by_one_caller_only(store: Store) -> None:
    async with store.tx() as s:
        await s.insert_waits(
            [
                Wait(0, "r1", WaitKind.WAIT, "x", "go", "async.data.ok == true", {"d": 1}, None, 9),
                Wait(0, "r2", WaitKind.INVOKE, "y", None, None, None, "corr-1", None),
            ]
        )
    async with store.read() as r:
        [w] = await r.waits_for_events(["go", "other"])
        assert w.expression == "async.data.ok == true" and w.event == {"d": 1}
        inv = await r.wait_for_correlation("corr-1")
        assert inv is not None and inv.run_id == "r2"
    async with store.tx() as s:
        assert await s.take_wait("r1", "x")
        assert not await s.take_wait("r1", "x")


async def test_put_app_replaces_functions_and_keeps_pauses(store: Store) -> None:
    app = App("app", "http://127.0.0.1:1/api", "py", "asgi", "c1", 1)
    fns = [
        FunctionRecord("app-a", "app", "a", {"id": "app-a"}),
        FunctionRecord("app-b", "app", "b", {}),
    ]
    async with store.tx() as s:
        await s.put_app(app, fns, 1)
    async with store.tx() as s:
        await s.put_app(app, fns[:1], 2)
    async with store.read() as r:
        assert [f.id for f in await r.list_functions()] == ["app-a"]
        assert (await r.functions_version())[0] == 1
        got = await r.get_app("app")
        assert got is not None and got.url == "http://127.0.0.1:1/api"


async def test_two_workers_never_lease_the_same_item(store: Store) -> None:
    async with store.tx() as s:
        await s.enqueue([NewItem(QueueKind.DISCOVER, f"r{i}", 0) for i in range(200)])
    taken: list[int] = []

    async def worker(name: str) -> None:
        while True:
            items = await store.lease(name, now=10, limit=7, lease_ms=60_000)
            if not items:
                return
            taken.extend(i.id for i in items)

    await asyncio.gather(worker("a"), worker("b"), worker("c"))
    assert len(taken) == 200 and len(set(taken)) == 200


async def test_list_runs_filters_by_function_and_status_newest_first(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs(
            [NewRun(run_record(f"r{i}", fn="a" if i < 3 else "b")) for i in range(5)]
        )
        assert await s.start_run("r1", 2000)
        assert not await s.start_run("r1", 3000)  # already started
        await s.finish_run("r2", RunStatus.COMPLETED, 4000, output=1)
    async with store.read() as r:
        assert [x.id for x in await r.list_runs()] == ["r4", "r3", "r2", "r1", "r0"]
        assert [x.id for x in await r.list_runs(function_id="a", limit=2)] == ["r2", "r1"]
        # "Running" (the REST API's name for queued and running runs) covers both.
        running = await r.list_runs(function_id="a", status=RunStatus.RUNNING)
        assert [x.id for x in running] == ["r1", "r0"]
        assert [x.id for x in await r.list_runs(status=RunStatus.COMPLETED)] == ["r2"]
        assert [x.id for x in await r.list_runs(before="r3")] == ["r2", "r1", "r0"]


async def test_unfinished_runs_of_a_function_in_a_time_range_oldest_first(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs(
            [NewRun(run_record(f"r{i}", now=1000 * i)) for i in range(1, 7)]
            + [NewRun(run_record("other", fn="app-other", now=3000))]
        )
        assert await s.start_run("r3", 3500)  # running counts, like queued
        await s.finish_run("r4", RunStatus.COMPLETED, 4500, output=1)
        await s.finish_run("r5", RunStatus.CANCELLED, 5500)
    async with store.read() as r:
        # Strictly between the bounds: r1 (at 1000) and r6 (at 6000) are out.
        found = await r.unfinished_runs("app-fn", queued_after=1000, queued_before=6000)
        assert [x.id for x in found] == ["r2", "r3"]
        wide = await r.unfinished_runs("app-fn", queued_after=0, queued_before=10_000, limit=2)
        assert [x.id for x in wide] == ["r1", "r2"]
        rest = await r.unfinished_runs(
            "app-fn", queued_after=0, queued_before=10_000, after_id="r2", limit=2
        )
        assert [x.id for x in rest] == ["r3", "r6"]
        assert await r.unfinished_runs("app-nope", queued_after=0, queued_before=10_000) == []


async def test_batches_collect_per_key_and_close_once(store: Store) -> None:
    evs = [EventRecord(f"b{i}", "e", {"name": "e", "data": {"i": i}}, 10 + i) for i in range(4)]
    async with store.tx() as s:
        await s.insert_events(evs)
        first = await s.add_to_batch("app-fn", "k", "b0", 10, new_id="B1", now=100)
        second = await s.add_to_batch("app-fn", "k", "b1", 20, new_id="B2", now=101)
        other_key = await s.add_to_batch("app-fn", "j", "b2", 5, new_id="B3", now=102)
        other_fn = await s.add_to_batch("app-other", "k", "b3", 5, new_id="B4", now=103)
    # The second add joins the open batch of (function, key): same id, counts added up.
    assert (first.id, first.size, first.bytes) == ("B1", 1, 10)
    assert (second.id, second.size, second.bytes, second.created_at) == ("B1", 2, 30, 100)
    assert (other_key.id, other_fn.id) == ("B3", "B4")
    async with store.tx() as s:
        assert await s.close_batch("B1") == "app-fn"
        assert await s.close_batch("B1") is None  # closed once: a racing timer does nothing
        events = await s.batch_events("B1")
        assert [(i, p["data"]["i"]) for i, p in events] == [("b0", 0), ("b1", 1)]
        # After closing, the next event of that key opens a new batch.
        again = await s.add_to_batch("app-fn", "k", "b3", 1, new_id="B5", now=200)
        assert (again.id, again.size) == ("B5", 1)
        batch_run = dataclasses.replace(run_record("rb"), event_id="b0", batch_id="B1")
        await s.create_runs([NewRun(batch_run)])
    async with store.read() as r:
        # Every event of the batch leads to its run.
        assert [x.id for x in await r.runs_for_event("b1")] == ["rb"]
        assert [x.id for x in await r.runs_for_event("b0")] == ["rb"]
        got = await r.get_run("rb")
        assert got is not None and got.batch_id == "B1"


async def test_concurrent_adds_to_one_batch_count_every_event(store: Store) -> None:
    async def add(i: int) -> int:
        async with store.tx() as s:
            batch = await s.add_to_batch("app-fn", "", f"c{i}", 1, new_id=f"N{i}", now=i)
            return batch.size

    sizes = await asyncio.gather(*(add(i) for i in range(20)))
    assert sorted(sizes) == list(range(1, 21))


def step_done(item_id: int, step: str, data: int) -> StepDone:
    return StepDone(
        "r1", item_id, step, step, "StepRun", f'{{"data":{data}}}', 10, 1, 20, 5_000, "w"
    )


async def test_step_done_saves_the_step_and_reuses_the_call_for_the_next(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs([NewRun(run_record("r1"))])
        await s.start_run("r1", 5)
        await s.enqueue([NewItem(QueueKind.DISCOVER, "r1", 0)])
    [item] = await store.lease("w", 10, 10, 1000)
    [done] = await store.steps_done([step_done(item.id, "a", 1)])
    assert done is not None
    nxt, stack_len = done
    assert (nxt.id, nxt.kind, nxt.due_at, stack_len) == (item.id, QueueKind.DISCOVER, 5_000, 1)
    # The same answer again (a retried call) saves nothing twice.
    [again] = await store.steps_done([step_done(item.id, "a", 9)])
    assert again is not None and again[1] == 1
    async with store.read() as r:
        assert await r.load_memos("r1") == {"a": {"data": 1}}
        run = await r.get_run("r1")
        assert run is not None and run.stack == ["a"]
        [step] = await r.list_steps("r1")
        assert (step.status, step.attempts, step.started_at, step.ended_at) == (
            StepStatus.COMPLETED,
            1,
            10,
            20,
        )


async def test_step_done_writes_nothing_unless_the_run_is_running(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs([NewRun(run_record("r1"))])
        await s.enqueue([NewItem(QueueKind.DISCOVER, "r1", 0)])
    [item] = await store.lease("w", 10, 10, 1000)
    assert await store.steps_done([step_done(item.id, "a", 1)]) == [None]  # still queued
    async with store.tx() as s:
        await s.start_run("r1", 5)
        await s.finish_run("r1", RunStatus.CANCELLED, 6)
    assert await store.steps_done([step_done(item.id, "a", 1)]) == [None]  # cancelled
    async with store.read() as r:
        assert await r.load_memos("r1") == {}


async def test_steps_done_saves_a_batch_in_one_go_whatever_the_order(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs([NewRun(run_record(r)) for r in ("r2", "r1", "r3")])
        for r in ("r1", "r2"):
            await s.start_run(r, 5)
        await s.enqueue([NewItem(QueueKind.DISCOVER, r, 0) for r in ("r2", "r1", "r3")])
    items = {str(i.run_id): i for i in await store.lease("w", 10, 10, 1000)}
    batch = [
        dataclasses.replace(step_done(items[r].id, f"s-{r}", n), run_id=r)
        for n, r in enumerate(("r2", "r3", "r1"))
    ]
    got = await store.steps_done(batch)
    assert [g[0].run_id if g else None for g in got] == ["r2", None, "r1"]  # r3 is queued
    async with store.read() as r:
        assert await r.load_memos("r1") == {"s-r1": {"data": 2}}
        assert await r.load_memos("r2") == {"s-r2": {"data": 0}}
        assert await r.load_memos("r3") == {}
