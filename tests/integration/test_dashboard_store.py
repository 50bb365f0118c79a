"""What the dashboard reads, on every store: failed step attempts (written by the engine as
it applies apps' answers), why events started no run, run lists paged by time and cursor,
and run counts per function."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.domain import (
    DISCOVERY_HASH,
    EventRecord,
    EventSkip,
    FunctionRecord,
    FunctionStats,
    QueueItem,
    QueueKind,
    RunRecord,
    RunStatus,
    SkipReason,
    StepAttempt,
    StepStatus,
)
from outlast.engine.caller import CallResult
from outlast.engine.machine import Machine, Options
from outlast.engine.registry import Registry
from outlast.protocol import ids
from outlast.store import NewRun
from outlast.store.base import Store
from outlast.store.rows import StepDone

URL = "http://127.0.0.1:1/api"


def function(fid: str, retries: int, **config: Any) -> FunctionRecord:
    raw = {
        "id": fid,
        "name": fid,
        "triggers": [{"event": "go"}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": URL},
                "retries": {"attempts": retries},
            }
        },
        **config,
    }
    return FunctionRecord(fid, "app", fid, raw)


def machine(*functions: FunctionRecord) -> Machine:
    registry = Registry()
    registry.load(list(functions), None)
    return Machine(registry, Options(owner="w", lease_ms=1000))


def go(n: int, now: int, **data: Any) -> EventRecord:
    return EventRecord(f"01EV{n:022d}", "go", {"name": "go", "data": data, "ts": now}, now)


def step_error(step: str, message: str) -> dict[str, Any]:
    return {
        "op": "StepError",
        "id": step,
        "displayName": step,
        "error": {"name": "Error", "message": message},
    }


async def lease_one(store: Store, now: int) -> QueueItem:
    [item] = await store.lease("w", now, 10, 1000)
    return item


async def apply(
    store: Store, m: Machine, fid: str, item: QueueItem, result: CallResult, t: int
) -> QueueItem | None:
    """The app answered ``result`` to a call that began at ``t`` and ended at ``t + 5``."""
    spec = m.registry.get(fid)
    assert spec is not None
    async with store.tx() as s:
        return await m.apply(s, item, spec, result, t, t + 5)


async def start(store: Store, m: Machine, now: int = 1_000) -> RunRecord:
    async with store.tx() as s:
        [run] = await m.ingest(s, [go(1, now)], now)
    return run


# -- failed attempts -------------------------------------------------------------------------


async def test_a_step_that_fails_twice_then_succeeds_keeps_each_failed_attempt(
    store: Store,
) -> None:
    m = machine(function("app-f", retries=3))
    run = await start(store, m)
    discover = await lease_one(store, 1_000)
    # The step runs inside the discovery call and fails: retried as a step call of its own.
    await apply(store, m, "app-f", discover, CallResult("ops", ops=[step_error("a", "one")]), 2_000)
    first_retry = await lease_one(store, 10**12)
    assert (first_retry.kind, first_retry.step, first_retry.attempt) == (QueueKind.STEP, "a", 1)
    await apply(
        store, m, "app-f", first_retry, CallResult("ops", ops=[step_error("a", "two")]), 3_000
    )
    second_retry = await lease_one(store, 10**12 + 10**9)
    assert second_retry.attempt == 2
    ok = CallResult("ops", ops=[{"op": "StepRun", "id": "a", "displayName": "a", "data": 7}])
    await apply(store, m, "app-f", second_retry, ok, 4_000)

    async with store.read() as r:
        attempts = await r.list_step_attempts(run.id)
        [step] = await r.list_steps(run.id)
    err = {"name": "Error", "message": "one"}
    assert attempts == [
        StepAttempt(run.id, "a", 0, 2_000, 2_005, err),
        StepAttempt(run.id, "a", 1, 3_000, 3_005, {**err, "message": "two"}),
    ]
    # The successful last attempt is the step row itself.
    assert (step.status, step.attempts, step.started_at, step.memo) == (
        StepStatus.COMPLETED,
        3,
        4_000,
        {"data": 7},
    )


async def test_a_step_that_succeeds_at_once_writes_no_attempt(store: Store) -> None:
    m = machine(function("app-f", retries=3))
    run = await start(store, m)
    discover = await lease_one(store, 1_000)
    ok = CallResult("ops", ops=[{"op": "StepRun", "id": "a", "data": 1}])
    nxt = await apply(store, m, "app-f", discover, ok, 2_000)
    assert nxt is not None
    # The fast path (one statement on PostgreSQL) for the next step.
    [saved] = await store.steps_done(
        [StepDone(run.id, nxt.id, "b", "b", "StepRun", '{"data":2}', 3_000, 1, 3_001, 9_000, "w")]
    )
    assert saved is not None
    async with store.read() as r:
        assert [s.hash for s in await r.list_steps(run.id)] == ["a", "b"]
        assert await r.list_step_attempts(run.id) == []


async def test_a_step_out_of_retries_and_a_refused_op_record_their_last_attempt(
    store: Store,
) -> None:
    m = machine(function("app-f", retries=1))
    run = await start(store, m)
    discover = await lease_one(store, 1_000)
    await apply(store, m, "app-f", discover, CallResult("ops", ops=[step_error("a", "x")]), 2_000)
    retry = await lease_one(store, 10**12)
    # Out of retries: the step fails, and so does a sleep the server cannot carry out.
    bad_sleep = {"op": "Sleep", "id": "nap", "opts": {"duration": "forever"}}
    failed = CallResult("ops", ops=[step_error("a", "y"), bad_sleep])
    await apply(store, m, "app-f", retry, failed, 3_000)
    async with store.read() as r:
        attempts = await r.list_step_attempts(run.id)
        steps = {s.hash: s for s in await r.list_steps(run.id)}
    refused = {"name": "InvalidSleep", "message": "cannot sleep for 'forever'"}
    assert [(a.hash, a.attempt, a.started_at, a.error) for a in attempts] == [
        ("a", 0, 2_000, {"name": "Error", "message": "x"}),
        ("a", 1, 3_000, {"name": "Error", "message": "y"}),
        ("nap", 0, 3_005, refused),
    ]
    assert steps["nap"].error == refused
    assert steps["a"].status is StepStatus.FAILED and steps["a"].attempts == 2
    assert steps["nap"].status is StepStatus.FAILED


async def test_failed_discovery_calls_are_attempts_of_the_function_itself(store: Store) -> None:
    m = machine(function("app-f", retries=1))
    run = await start(store, m)
    discover = await lease_one(store, 1_000)
    boom = CallResult("error", error={"name": "TypeError", "message": "boom"}, status=500)
    await apply(store, m, "app-f", discover, boom, 2_000)
    again = await lease_one(store, 10**12)
    assert again.attempt == 1
    await apply(store, m, "app-f", again, boom, 3_000)  # the last: the run fails
    async with store.read() as r:
        attempts = await r.list_step_attempts(run.id)
        ended = await r.get_run(run.id)
    assert [(a.hash, a.attempt, a.started_at, a.ended_at) for a in attempts] == [
        (DISCOVERY_HASH, 0, 2_000, 2_005),
        (DISCOVERY_HASH, 1, 3_000, 3_005),
    ]
    assert ended is not None and ended.status is RunStatus.FAILED


async def test_a_rerun_copies_steps_but_not_their_failed_attempts(store: Store) -> None:
    async with store.tx() as s:
        await s.create_runs([NewRun(run_at("r1", 1)), NewRun(run_at("r2", 2))])
        await s.complete_step(
            "r1",
            "a",
            name="a",
            op="StepRun",
            memo={"data": 1},
            status=StepStatus.COMPLETED,
            now=5,
            started_at=4,
            attempts=2,
        )
        await s.add_step_attempts([StepAttempt("r1", "a", 0, 1, 2, {"message": "no"})])
        assert await s.copy_steps("r1", "r2", ["a"]) == 1
    async with store.read() as r:
        assert len(await r.list_step_attempts("r1")) == 1
        assert await r.list_step_attempts("r2") == []
        assert [s.hash for s in await r.list_steps("r2")] == ["a"]


# -- why events started no run ------------------------------------------------------------------


async def test_event_skips_keep_the_latest_reason_per_event_and_function(store: Store) -> None:
    first = [
        EventSkip("e1", "app-a", SkipReason.PAUSED, 10),
        EventSkip("e1", "app-b", SkipReason.FILTERED, 10),
        EventSkip("e2", "app-a", SkipReason.RATE_LIMITED, 11),
        # Twice in one batch: the last one counts (one statement, no double upsert).
        EventSkip("e2", "app-a", SkipReason.SINGLETON, 12),
    ]
    many = [EventSkip(f"m{i:04d}", "app-a", SkipReason.DEBOUNCED, i) for i in range(600)]
    async with store.tx() as s:
        await s.insert_event_skips(first + many)
        await s.insert_event_skips([EventSkip("e1", "app-a", SkipReason.DEDUPLICATED, 20)])
        await s.insert_event_skips([])
    async with store.read() as r:
        got = await r.list_event_skips(["e2", "e1", "nope", "e1"])
        assert len(await r.list_event_skips([f"m{i:04d}" for i in range(600)])) == 600
        assert await r.list_event_skips([]) == []
        with pytest.raises(TypeError, match="not one string"):
            await r.list_event_skips("e1")
    assert got == [
        EventSkip("e1", "app-a", SkipReason.DEDUPLICATED, 20),
        EventSkip("e1", "app-b", SkipReason.FILTERED, 10),
        EventSkip("e2", "app-a", SkipReason.SINGLETON, 12),
    ]
    async with store.tx() as s:
        await s.delete_event_skips([("e1", "app-a"), ("e2", "app-x")])
    async with store.read() as r:
        assert [(k.event_id, k.function_id) for k in await r.list_event_skips(["e1", "e2"])] == [
            ("e1", "app-b"),
            ("e2", "app-a"),
        ]


async def test_ingest_records_why_each_event_started_no_run(store: Store) -> None:
    m = machine(
        function("app-plain", retries=0),
        function("app-vip", retries=0, triggers=[{"event": "go", "expression": "event.data.vip"}]),
        function("app-once", retries=0, idempotency="event.data.order"),
    )
    async with store.tx() as s:
        first = await m.ingest(s, [go(1, 100, vip=False, order=1)], 100)
        again = await m.ingest(s, [go(2, 200, vip=True, order=1)], 200)
    assert sorted(r.function_id for r in first) == ["app-once", "app-plain"]
    assert sorted(r.function_id for r in again) == ["app-plain", "app-vip"]
    async with store.read() as r:
        skips = await r.list_event_skips([go(1, 0).internal_id, go(2, 0).internal_id])
    assert skips == [
        EventSkip(go(1, 0).internal_id, "app-vip", SkipReason.FILTERED, 100),
        EventSkip(go(2, 0).internal_id, "app-once", SkipReason.DEDUPLICATED, 200),
    ]


# -- run lists and counts ---------------------------------------------------------------------


def run_at(
    run_id: str, queued_at: int, fn: str = "app-a", status: RunStatus = RunStatus.COMPLETED
) -> RunRecord:
    return RunRecord(run_id, fn, status, [{"name": "e", "data": {}}], None, queued_at)


T0 = 1_700_000_000_000
HOUR = 3_600_000


async def many_runs(store: Store) -> list[RunRecord]:
    """48 runs, one every half hour from T0 (ids are ULIDs of their queued time, as the
    engine makes them), over two functions and every status."""
    statuses = list(RunStatus)
    runs = [
        run_at(
            ids.ulid_at(T0 + i * HOUR // 2),
            T0 + i * HOUR // 2,
            fn="app-a" if i % 3 else "app-b",
            status=statuses[i % len(statuses)],
        )
        for i in range(48)
    ]
    async with store.tx() as s:
        await s.create_runs([NewRun(r) for r in runs])
    return runs


async def test_list_runs_pages_by_cursor_within_a_time_window(store: Store) -> None:
    runs = await many_runs(store)
    since, until = T0 + 2 * HOUR, T0 + 10 * HOUR  # runs 4 .. 19
    window = [r for r in runs if since <= r.queued_at < until]
    assert len(window) == 16
    async with store.read() as r:
        pages: list[list[str]] = []
        cursor: str | None = None
        while True:
            page = await r.list_runs(since=since, until=until, before=cursor, limit=5)
            if not page:
                break
            pages.append([x.id for x in page])
            cursor = page[-1].id
        assert [len(p) for p in pages] == [5, 5, 5, 1]
        assert [i for p in pages for i in p] == [x.id for x in reversed(window)]
        only_since = await r.list_runs(since=T0 + 23 * HOUR, limit=100)
        assert [x.id for x in only_since] == [x.id for x in reversed(runs[46:])]
        only_until = await r.list_runs(until=T0 + HOUR, limit=100)
        assert [x.id for x in only_until] == [x.id for x in reversed(runs[:2])]
        assert await r.list_runs(since=until, until=since) == []
        with pytest.raises(ValueError, match="limit"):
            await r.list_runs(limit=0)


@pytest.mark.parametrize("status", [None, *RunStatus])
async def test_list_runs_filters_function_status_and_window_together(
    store: Store, status: RunStatus | None
) -> None:
    runs = await many_runs(store)
    since, until = T0 + 3 * HOUR, T0 + 20 * HOUR

    def wanted(x: RunRecord) -> bool:
        shown = {x.status} | ({RunStatus.RUNNING} if x.status is RunStatus.QUEUED else set())
        return (
            x.function_id == "app-a"
            and since <= x.queued_at < until
            and (status is None or status in shown)
        )

    expected = [x.id for x in reversed(runs) if wanted(x)]
    async with store.read() as r:
        got: list[str] = []
        cursor: str | None = None
        for _ in range(50):
            page = await r.list_runs(
                function_id="app-a", status=status, since=since, until=until, before=cursor, limit=2
            )
            if not page:
                break
            got += [x.id for x in page]
            cursor = page[-1].id
    assert got == expected and expected


async def test_function_stats_count_runs_queued_since(store: Store) -> None:
    runs = await many_runs(store)
    since = T0 + 12 * HOUR  # runs 24 .. 47
    async with store.read() as r:
        stats = await r.function_stats(["app-a", "app-b", "app-none"], since)
        with pytest.raises(TypeError, match="not one string"):
            await r.function_stats("app-a", since)
        assert await r.function_stats([], since) == {}

    def count(fn: str, *statuses: RunStatus) -> int:
        return sum(
            1 for x in runs if x.function_id == fn and x.queued_at >= since and x.status in statuses
        )

    for fn in ("app-a", "app-b"):
        assert stats[fn] == FunctionStats(
            total=count(fn, *RunStatus),
            completed=count(fn, RunStatus.COMPLETED),
            failed=count(fn, RunStatus.FAILED),
            cancelled=count(fn, RunStatus.CANCELLED),
            running=count(fn, RunStatus.RUNNING, RunStatus.QUEUED),
        )
    assert stats["app-a"].total == 16 and stats["app-b"].total == 8
    assert stats["app-none"] == FunctionStats(0, 0, 0, 0, 0)
