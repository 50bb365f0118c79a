"""timeouts.start / timeouts.finish: durable timers that cancel late runs (in-memory store)."""

from __future__ import annotations

from outlast.domain import EventRecord, QueueKind, RunStatus
from outlast.engine.machine import Machine
from outlast.store import Store

from .conftest import MakeMachine, function

LATE = function("app-late", "late", timeouts={"start": "10s", "finish": "1m"})


async def new_run(store: Store, m: Machine, now: int) -> str:
    event = EventRecord("01EVENT", "go", {"name": "go", "data": {}, "id": "e1", "ts": now}, now)
    async with store.tx() as s:
        [run] = await m.ingest(s, [event], now)
    return run.id


async def timers(store: Store, at: int) -> dict[str, int]:
    items = await store.lease("test", at, 100, 1000)
    return {str((i.payload or {})["which"]): i.id for i in items if i.kind is QueueKind.TIMEOUT}


async def test_a_run_not_started_in_time_is_cancelled(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(LATE)
    run_id = await new_run(memory_store, m, 1_000)
    early = await memory_store.lease("test", 10_999, 100, 1000)
    assert [i.kind for i in early] == [QueueKind.DISCOVER]  # the timer is not due yet
    items = await memory_store.lease("test", 11_000, 100, 1000)
    [timer] = [i for i in items if i.kind is QueueKind.TIMEOUT]
    async with memory_store.tx() as s:
        await m.fire(s, timer, 11_000)
    async with memory_store.read() as r:
        run = await r.get_run(run_id)
    assert run is not None and run.status is RunStatus.CANCELLED
    assert run.error == {
        "error": "Cancelled: the run did not start within 10s",
        "name": "Cancelled",
        "message": "the run did not start within 10s",
    }


async def test_a_started_run_ignores_the_start_timer_and_gets_a_finish_timer(
    memory_store: Store,
    machine: MakeMachine,
) -> None:
    m = machine(LATE)
    run_id = await new_run(memory_store, m, 1_000)
    spec = m.registry.get("app-late")
    assert spec is not None
    async with memory_store.tx() as s:
        await m.start(s, run_id, spec, 2_000)
        await m.start(s, run_id, spec, 3_000)  # a second start changes nothing
    assert set(await timers(memory_store, 61_999)) == {"start"}
    assert set(await timers(memory_store, 62_000 + 1_000)) == {"start", "finish"}
    items = {i.id: i for i in await memory_store.lease("test", 10**12, 100, 1000)}
    async with memory_store.tx() as s:
        for item in items.values():
            if item.kind is QueueKind.TIMEOUT and (item.payload or {})["which"] == "start":
                await m.fire(s, item, 11_000)
    async with memory_store.read() as r:
        run = await r.get_run(run_id)
    assert run is not None and run.status is RunStatus.RUNNING and run.started_at == 2_000
    async with memory_store.tx() as s:
        for item in items.values():
            if item.kind is QueueKind.TIMEOUT and (item.payload or {})["which"] == "finish":
                await m.fire(s, item, 62_000)
    async with memory_store.read() as r:
        run = await r.get_run(run_id)
    assert run is not None and run.status is RunStatus.CANCELLED
    assert run.error is not None and "did not finish within 1m" in run.error["message"]
