"""Flow control as the machine applies it when events arrive (in-memory store): throttle,
rate limit, debounce, singleton, idempotency, priority, concurrency keys."""

from __future__ import annotations

from typing import Any

from outlast.domain import EventRecord, FunctionRecord, QueueKind, RunStatus
from outlast.engine import flow
from outlast.engine.config import build_spec
from outlast.engine.machine import Machine
from outlast.protocol.registration import FunctionConfig
from outlast.store import Store

from .conftest import MakeMachine, due_items, function


def fn(**config: Any) -> FunctionRecord:
    return function("app-f", "f", **config)


_seq = iter(range(1, 1_000_000))


async def send(store: Store, m: Machine, now: int, **data: Any) -> list[str]:
    n = next(_seq)
    internal = f"01EV{n:022d}"
    payload = {"name": "go", "data": data, "id": f"e{n}", "ts": now}
    async with store.tx() as s:
        runs = await m.ingest(s, [EventRecord(internal, "go", payload, now)], now)
    return [r.id for r in runs]


async def test_throttle_starts_limit_plus_burst_at_once_then_one_per_interval(
    memory_store: Store,
    machine: MakeMachine,
) -> None:
    m = machine(fn(throttle={"limit": 10, "period": "1m"}))
    for _ in range(25):
        assert len(await send(memory_store, m, 1_000)) == 1  # nothing is dropped
    starts = sorted(i.due_at for i in await due_items(memory_store, QueueKind.DISCOVER))
    assert starts[:10] == [1_000] * 10
    # Then one every 6 s (1 minute / 10), in order.
    assert starts[10:] == [1_000 + 6_000 * k for k in range(1, 16)]


async def test_throttle_keys_are_separate(memory_store: Store, machine: MakeMachine) -> None:
    m = machine(fn(throttle={"limit": 1, "period": "10s", "burst": 1, "key": "event.data.user"}))
    for user in "aaab":
        await send(memory_store, m, 0, user=user)
    starts = sorted(i.due_at for i in await due_items(memory_store, QueueKind.DISCOVER))
    assert starts == [0, 0, 0, 10_000]  # a: 2 at once (limit + burst), then 10 s; b: at once


async def test_rate_limit_skips_excess_events_but_stores_them(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(rateLimit={"limit": 2, "period": "1m", "key": "event.data.user"}))
    started = [len(await send(memory_store, m, 1_000, user="a")) for _ in range(4)]
    assert started == [1, 1, 0, 0]
    assert len(await send(memory_store, m, 1_000, user="b")) == 1
    assert len(await send(memory_store, m, 31_000, user="a")) == 1  # one slot back after 30 s
    async with memory_store.read() as r:
        assert len(await r.list_events(limit=100)) == 6


async def test_debounce_runs_once_with_the_last_event_after_the_quiet_period(
    memory_store: Store,
    machine: MakeMachine,
) -> None:
    m = machine(fn(debounce={"period": "5s", "key": "event.data.user", "timeout": "12s"}))
    for t in (0, 2_000, 4_000):
        assert await send(memory_store, m, t, user="a", at=t) == []
    [timer] = await due_items(memory_store, QueueKind.DEBOUNCE)
    assert timer.due_at == 9_000  # 5 s after the last event
    async with memory_store.tx() as s:
        await m.fire(s, timer, 9_000)
    [call] = await due_items(memory_store, QueueKind.DISCOVER)
    async with memory_store.read() as r:
        run = await r.get_run(str(call.run_id))
    assert run is not None and run.events[0]["data"] == {"user": "a", "at": 4_000}


async def test_debounce_timeout_caps_the_delay(memory_store: Store, machine: MakeMachine) -> None:
    m = machine(fn(debounce={"period": "5s", "timeout": "12s"}))
    for t in range(0, 20_000, 3_000):
        await send(memory_store, m, t)
    [timer] = await due_items(memory_store, QueueKind.DEBOUNCE)
    assert timer.due_at == 12_000


async def test_a_debounce_timer_moved_while_it_fired_waits_again(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(debounce={"period": "5s"}))
    await send(memory_store, m, 0)
    [timer] = await due_items(memory_store, QueueKind.DEBOUNCE)
    await send(memory_store, m, 4_000)  # moves the end to 9 s, after the timer was leased
    async with memory_store.tx() as s:
        await m.fire(s, timer, 5_000)
    assert await due_items(memory_store, QueueKind.DISCOVER) == []
    [again] = await due_items(memory_store, QueueKind.DEBOUNCE)
    assert again.due_at >= 9_000


async def test_singleton_skip_drops_new_runs_while_one_is_unfinished(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(singleton={"key": "event.data.user", "mode": "skip"}))
    [first] = await send(memory_store, m, 0, user="a")
    assert await send(memory_store, m, 1, user="a") == []
    assert len(await send(memory_store, m, 2, user="b")) == 1
    async with memory_store.tx() as s:
        assert await m.cancel(s, first, 3, reason="done")
    assert len(await send(memory_store, m, 4, user="a")) == 1


async def test_singleton_cancel_replaces_the_running_run(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(singleton={"mode": "cancel"}))
    [first] = await send(memory_store, m, 0)
    [second] = await send(memory_store, m, 1)
    async with memory_store.read() as r:
        old, new = await r.get_run(first), await r.get_run(second)
    assert old is not None and old.status is RunStatus.CANCELLED
    assert new is not None and new.status is RunStatus.QUEUED


async def test_a_resent_event_does_not_cancel_a_singleton(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(singleton={"mode": "cancel"}))
    payload = {"name": "go", "data": {}, "id": "same", "ts": 0}
    async with memory_store.tx() as s:
        [first] = await m.ingest(s, [EventRecord("01A", "go", payload, 0)], 0)
        assert await m.ingest(s, [EventRecord("01B", "go", payload, 1)], 1) == []
    async with memory_store.read() as r:
        run = await r.get_run(first.id)
    assert run is not None and run.status is RunStatus.QUEUED


async def test_idempotency_key_allows_one_run_per_key_per_day(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(idempotency="event.data.order"))
    assert len(await send(memory_store, m, 0, order=1)) == 1
    assert await send(memory_store, m, 1_000, order=1) == []
    assert len(await send(memory_store, m, 1_000, order=2)) == 1
    assert len(await send(memory_store, m, 24 * 3_600_000 + 1, order=1)) == 1


async def test_priority_moves_the_first_call_ahead(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(priority={"run": "event.data.vip ? 120 : -30"}))
    await send(memory_store, m, 1_000_000, vip=True)
    await send(memory_store, m, 1_000_000, vip=False)
    starts = sorted(i.due_at for i in await due_items(memory_store, QueueKind.DISCOVER))
    assert starts == [1_000_000 - 120_000, 1_000_000 + 30_000]


def test_concurrency_keys_by_scope() -> None:
    spec = build_spec(
        "app",
        FunctionConfig.model_validate(
            fn(
                concurrency=[
                    {"limit": 3, "key": "event.data.user"},
                    {"limit": 10, "key": "event.data.org", "scope": "env"},
                ]
            ).config
        ),
    )
    event = {"name": "go", "data": {"user": "u1", "org": "o1"}}
    assert flow.concurrency_keys(spec.id, spec.flow.concurrency, event) == (
        ("fn:app-f:u1", 3),
        ("env:event.data.org:o1", 10),
    )
    plain = build_spec("app", FunctionConfig.model_validate(fn(concurrency=5).config))
    assert flow.concurrency_keys(plain.id, plain.flow.concurrency, event) == (("fn:app-f:", 5),)
    unlimited = build_spec("app", FunctionConfig.model_validate(fn(concurrency=0).config))
    assert unlimited.flow.concurrency == ()
