"""Why an event started no run, as ingest and flow control record it (in-memory store): one
row per event and function for each reason, none for events that start their runs, and
no statement at all for a batch of events that all do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from outlast.domain import (
    EventRecord,
    EventSkip,
    FunctionRecord,
    QueueItem,
    QueueKind,
    SkipReason,
)
from outlast.engine import manage
from outlast.engine.machine import Machine
from outlast.protocol.ops import EVENT_FUNCTION_FAILED
from outlast.store import Store
from outlast.store.conn import Conn, Row

from .conftest import MakeMachine, function
from .conftest import due_items as items


def fn(fid: str = "app-f", event: str = "go", **config: Any) -> FunctionRecord:
    return function(fid, fid, event, **config)


def event(
    n: int, now: int = 1_000, name: str = "go", event_id: str | None = None, **data: Any
) -> EventRecord:
    payload = {"name": name, "data": data, "id": event_id or f"e{n}", "ts": now}
    return EventRecord(f"01EV{n:022d}", name, payload, now)


async def send(store: Store, m: Machine, *events: EventRecord, now: int = 1_000) -> int:
    async with store.tx() as s:
        return len(await m.ingest(s, list(events), now))


async def skips(store: Store, *events: EventRecord) -> list[tuple[str, str, SkipReason]]:
    async with store.read() as r:
        found = await r.list_event_skips([e.internal_id for e in events])
    return [(k.event_id, k.function_id, k.reason) for k in found]


class Statements:
    """A connection that keeps the SQL it runs."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.sql: list[str] = []

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        self.sql.append(sql)
        return await self.conn.execute(sql, args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.sql.append(sql)
        await self.conn.executemany(sql, rows)

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        self.sql.append(sql)
        return await self.conn.fetch(sql, args)

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        self.sql.append(sql)
        return await self.conn.fetchone(sql, args)


async def test_a_batch_that_starts_every_run_writes_no_skip(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn("app-a"), fn("app-b", idempotency="event.data.order"))
    evs = [event(i, order=i) for i in range(20)]
    async with memory_store.tx() as s:
        spy = Statements(s.c)
        s.c = spy
        assert len(await m.ingest(s, evs, 1_000)) == 40
    assert not [sql for sql in spy.sql if "event_skips" in sql]
    # A batch with skips writes them all in one statement.
    evs = [event(100 + i, order=i) for i in range(20)]  # every order seen: app-b skips all
    async with memory_store.tx() as s:
        spy = Statements(s.c)
        s.c = spy
        assert len(await m.ingest(s, evs, 2_000)) == 20
    assert len([sql for sql in spy.sql if "event_skips" in sql]) == 1
    assert len(await skips(memory_store, *evs)) == 20


async def test_a_false_trigger_expression_is_recorded_as_filtered(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(
        fn("app-vip", triggers=[{"event": "go", "expression": "event.data.vip == true"}]),
        fn("app-all"),
    )
    plain, vip = event(1, vip=False), event(2, vip=True)
    assert await send(memory_store, m, plain, vip) == 3
    assert await skips(memory_store, plain, vip) == [
        (plain.internal_id, "app-vip", SkipReason.FILTERED)
    ]


async def test_the_servers_own_events_record_no_filtered_skip(
    memory_store: Store, machine: MakeMachine
) -> None:
    # A failure handler matches inngest/function.failed of one function only: the failures
    # of every other function are not news, and not written.
    handler = fn(
        "app-f-failure",
        event=EVENT_FUNCTION_FAILED,
        triggers=[
            {"event": EVENT_FUNCTION_FAILED, "expression": "event.data.function_id == 'app-f'"}
        ],
    )
    m = machine(handler)
    failed = event(1, name=EVENT_FUNCTION_FAILED, function_id="app-other")
    assert await send(memory_store, m, failed) == 0
    assert await skips(memory_store, failed) == []


async def test_a_paused_function_skips_its_events(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn("app-f", paused=True), fn("app-g"))
    e = event(1)
    assert await send(memory_store, m, e) == 1
    assert await skips(memory_store, e) == [(e.internal_id, "app-f", SkipReason.PAUSED)]


async def test_events_over_the_rate_limit_are_recorded(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(rateLimit={"limit": 1, "period": "1m"}))
    first, second = event(1), event(2)
    assert await send(memory_store, m, first, second) == 1
    assert await skips(memory_store, first, second) == [
        (second.internal_id, "app-f", SkipReason.RATE_LIMITED)
    ]


async def test_a_seen_event_id_or_idempotency_key_is_recorded_as_deduplicated(
    memory_store: Store,
    machine: MakeMachine,
) -> None:
    m = machine(fn("app-f"), fn("app-once", idempotency="event.data.order"))
    first = event(1, event_id="order-1", order=1)
    resent = event(2, event_id="order-1", order=2)  # the same id: no run of either function
    same_key = event(3, order=1)  # a new id, the same idempotency key
    assert await send(memory_store, m, first) == 2
    assert await send(memory_store, m, resent, same_key) == 1
    assert await skips(memory_store, first, resent, same_key) == [
        (resent.internal_id, "app-f", SkipReason.DEDUPLICATED),
        (resent.internal_id, "app-once", SkipReason.DEDUPLICATED),
        (same_key.internal_id, "app-once", SkipReason.DEDUPLICATED),
    ]


async def test_a_singleton_in_skip_mode_records_the_dropped_event(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(singleton={"mode": "skip"}))
    first, second = event(1), event(2)
    assert await send(memory_store, m, first) == 1
    assert await send(memory_store, m, second) == 0
    assert await skips(memory_store, first, second) == [
        (second.internal_id, "app-f", SkipReason.SINGLETON)
    ]


async def test_debounced_events_are_recorded_when_a_later_one_replaces_them(
    memory_store: Store,
    machine: MakeMachine,
) -> None:
    m = machine(fn(debounce={"period": "5s"}))
    evs = [event(i, now=1_000 * i) for i in range(1, 4)]
    for e in evs:
        assert await send(memory_store, m, e, now=e.received_at) == 0
    [timer] = await items(memory_store, QueueKind.DEBOUNCE)
    async with memory_store.tx() as s:
        await m.fire(s, timer, 10_000)
    assert len(await items(memory_store, QueueKind.DISCOVER)) == 1  # the last one's run
    assert await skips(memory_store, *evs) == [
        (evs[0].internal_id, "app-f", SkipReason.DEBOUNCED),
        (evs[1].internal_id, "app-f", SkipReason.DEBOUNCED),
    ]


async def test_a_debounce_ending_while_paused_or_removed_records_why(
    memory_store: Store, machine: MakeMachine
) -> None:
    config = {"debounce": {"period": "5s"}}
    for n, (records, reason) in enumerate(
        [
            ([fn(paused=True, **config)], SkipReason.PAUSED),
            ([], SkipReason.FUNCTION_REMOVED),
        ]
    ):
        m = machine(fn(**config))
        e = event(10 + n)
        await send(memory_store, m, e)
        [timer] = await items(memory_store, QueueKind.DEBOUNCE)
        m.registry.load(records, None)  # paused, or removed, before the debounce ends
        async with memory_store.tx() as s:
            await m.fire(s, timer, 10_000)
        assert await skips(memory_store, e) == [(e.internal_id, "app-f", reason)]


async def test_batched_events_are_not_skipped_unless_their_function_is_removed(
    memory_store: Store,
    machine: MakeMachine,
) -> None:
    m = machine(fn(batchEvents={"maxSize": 2, "timeout": "5s"}))
    evs = [event(i, now=1_000 * i) for i in range(1, 4)]
    assert await send(memory_store, m, evs[0], now=1_000) == 0
    assert await send(memory_store, m, evs[1], now=2_000) == 1  # full: 1 and 2 run
    assert await send(memory_store, m, evs[2], now=3_000) == 0  # a new batch waits
    [timer] = await items(memory_store, QueueKind.BATCH)
    assert timer.due_at == 8_000
    m.registry.load([], None)
    async with memory_store.tx() as s:
        await m.fire(s, timer, 8_000)
    assert await skips(memory_store, *evs) == [
        (evs[2].internal_id, "app-f", SkipReason.FUNCTION_REMOVED)
    ]


async def test_a_duplicate_cron_tick_is_recorded_as_deduplicated(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(fn(triggers=[{"cron": "* * * * *"}]))
    tick = {"function_id": "app-f", "cron": "* * * * *", "tick": 60_000}
    item = QueueItem(1, None, QueueKind.CRON, None, tick, 0, 60_000)
    for _ in range(2):
        async with memory_store.tx() as s:
            await m.fire(s, item, 60_000)
    async with memory_store.read() as r:
        events = await r.list_events(limit=10)
        found = await r.list_event_skips([e.internal_id for e in events])
        [unrun] = [e for e in events if not await r.runs_for_event(e.internal_id)]
    assert len(events) == 2
    assert found == [EventSkip(unrun.internal_id, "app-f", SkipReason.DEDUPLICATED, 60_000)]


async def test_a_replay_that_starts_a_run_forgets_why_the_event_started_none(
    memory_store: Store,
    machine: MakeMachine,
) -> None:
    m = machine(fn(paused=True))
    e = event(1)
    await send(memory_store, m, e)
    assert await skips(memory_store, e) == [(e.internal_id, "app-f", SkipReason.PAUSED)]
    m.registry.load([fn()], None)  # resumed
    async with memory_store.tx() as s:
        [run] = await manage.replay_event(s, m, e.internal_id, 5_000)
    assert run.event_id == e.internal_id
    assert await skips(memory_store, e) == []
