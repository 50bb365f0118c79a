"""What the dashboard reads, on every store: failed step attempts (written by the engine as
it applies apps' answers), why events started no run, run lists paged by time and cursor,
run counts per function, and a function's flow-control state now."""

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
from outlast.engine.caller import CallResult, Failed, Ops
from outlast.engine.machine import Machine, Options
from outlast.engine.registry import Registry
from outlast.protocol import ids
from outlast.server import reads
from outlast.store import NewItem, NewRun, Store
from outlast.store.dashboard import (
    BatchRow,
    Bounded,
    DebounceDue,
    GcraRow,
    KeyLoad,
    SingletonHolder,
)
from outlast.store.flow import PendingDebounce
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
    await apply(store, m, "app-f", discover, Ops.of([step_error("a", "one")]), 2_000)
    first_retry = await lease_one(store, 10**12)
    assert (first_retry.kind, first_retry.step, first_retry.attempt) == (QueueKind.STEP, "a", 1)
    await apply(store, m, "app-f", first_retry, Ops.of([step_error("a", "two")]), 3_000)
    second_retry = await lease_one(store, 10**12 + 10**9)
    assert second_retry.attempt == 2
    ok = Ops.of([{"op": "StepRun", "id": "a", "displayName": "a", "data": 7}])
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
    ok = Ops.of([{"op": "StepRun", "id": "a", "data": 1}])
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
    await apply(store, m, "app-f", discover, Ops.of([step_error("a", "x")]), 2_000)
    retry = await lease_one(store, 10**12)
    # Out of retries: the step fails, and so does a sleep the server cannot carry out.
    bad_sleep = {"op": "Sleep", "id": "nap", "opts": {"duration": "forever"}}
    failed = Ops.of([step_error("a", "y"), bad_sleep])
    await apply(store, m, "app-f", retry, failed, 3_000)
    async with store.read() as r:
        attempts = await r.list_step_attempts(run.id)
        steps = {s.hash: s for s in await r.list_steps(run.id)}
    refused = {
        "error": "InvalidSleep: cannot sleep for 'forever'",
        "name": "InvalidSleep",
        "message": "cannot sleep for 'forever'",
    }
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
    boom = Failed(error={"name": "TypeError", "message": "boom"}, status=500)
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


# -- flow control now ---------------------------------------------------------------------------


def keyed_run(run_id: str, fn: str, *limits: tuple[str, int]) -> NewRun:
    record = RunRecord(run_id, fn, RunStatus.QUEUED, [{"name": "e", "data": {}}], None, 1)
    return NewRun(record, concurrency=limits)


async def queue_calls(store: Store, runs: list[NewRun], due: int = 100) -> None:
    async with store.tx() as s:
        await s.create_runs(runs)
        await s.enqueue([NewItem(QueueKind.DISCOVER, r.run.id, due) for r in runs])


async def test_concurrency_load_counts_calls_in_flight_and_waiting_per_key(store: Store) -> None:
    runs = [keyed_run(f"a{i}", "app-c", ("fn:app-c:ann", 2)) for i in range(5)]
    runs += [keyed_run("b0", "app-c", ("fn:app-c:bob", 2))]
    # Another function, one whose id starts with this one's, and an idle key.
    runs += [keyed_run(f"o{i}", "app-other", ("fn:app-other:ann", 2)) for i in range(3)]
    runs += [keyed_run("x0", "app-cx", ("fn:app-cx:ann", 2))]
    await queue_calls(store, runs)
    await queue_calls(store, [keyed_run("later", "app-c", ("fn:app-c:cy", 2))], due=10**9)
    await store.lease("w", 200, 100, 1000)  # 2 of ann, bob, 2 of other, cx

    async with store.read() as r:
        load = await r.concurrency_load(["fn:app-c:"], 300)
        assert load == Bounded(
            [
                KeyLoad("fn:app-c:ann", 2, 2, 3, False),
                KeyLoad("fn:app-c:bob", 2, 1, 0, False),
            ],
            False,
        )
        # The waiting count stops at its cap.
        capped = await r.concurrency_load(["fn:app-c:"], 300, cap=2)
        assert capped.rows[0] == KeyLoad("fn:app-c:ann", 2, 2, 2, True)
        # Only the first key is walked; a key with calls in flight is listed anyway.
        walked = await r.concurrency_load(["fn:app-c:"], 300, walk=1)
        assert [k.key for k in walked.rows] == ["fn:app-c:ann", "fn:app-c:bob"] and walked.more
        # Leases that ran out are ready again: waiting, not in flight.
        expired = await r.concurrency_load(["fn:app-c:"], 5_000)
        assert [(k.key, k.in_flight, k.waiting) for k in expired.rows] == [
            ("fn:app-c:ann", 0, 5),
            ("fn:app-c:bob", 0, 1),
        ]
        assert await r.concurrency_load(["fn:app-none:"], 300) == Bounded([], False)
        assert await r.concurrency_load([], 300) == Bounded([], False)


async def test_concurrency_load_of_two_constraints_and_a_shared_key(store: Store) -> None:
    shared = "env:event.data.acct:acme"
    runs = [keyed_run(f"x{i}", "app-x", ("fn:app-x:", 5), (shared, 2)) for i in range(4)]
    runs += [keyed_run(f"y{i}", "app-y", (shared, 2)) for i in range(2)]
    await queue_calls(store, runs)
    leased = await store.lease("w", 200, 100, 1000)
    assert len(leased) == 2  # the shared key's limit
    in_x = sum(1 for i in leased if str(i.run_id).startswith("x"))
    async with store.read() as r:
        load = await r.concurrency_load(["fn:app-x:", "env:event.data.acct:"], 300)
    got = {k.key: k for k in load.rows}
    assert got["fn:app-x:"] == KeyLoad("fn:app-x:", 5, in_x, 4 - in_x, False)
    # The shared key's calls: app-x's (as its second key) and app-y's (as its first).
    assert got[shared] == KeyLoad(shared, 2, 2, 4, False)


async def test_gcra_rows_of_a_function_by_prefix(store: Store) -> None:
    async with store.tx() as s:
        for key, tat in (
            ("throttle:app-t:ann", 5_000),
            ("throttle:app-t:bob", 7_000),
            ("throttle:app-tt:ann", 1),
            ("throttle:app-t", 2),
            ("rate:app-t:", 9_000),
        ):
            await s.lock_gcra(key)
            await s.set_gcra(key, tat)
    async with store.read() as r:
        assert await r.gcra_rows("throttle:app-t:", 10) == Bounded(
            [GcraRow("throttle:app-t:ann", 5_000), GcraRow("throttle:app-t:bob", 7_000)], False
        )
        assert await r.gcra_rows("throttle:app-t:", 1) == Bounded(
            [GcraRow("throttle:app-t:ann", 5_000)], True
        )
        assert (await r.gcra_rows("rate:app-t:", 10)).rows == [GcraRow("rate:app-t:", 9_000)]
        assert await r.gcra_rows("rate:app-none:", 10) == Bounded([], False)


#: Singleton holders: run id -> function (app-s:x's keys start with app-s's prefix too).
RUNS = {"r1": "app-s", "r2": "app-s", "r3": "app-s:x"}


async def test_debounces_singletons_and_batches_of_a_function(store: Store) -> None:
    async with store.tx() as s:
        for key, fid, due in (
            ("app-d:ann", "app-d", 900),
            ("app-d:bob", "app-d", 800),
            # Another function whose id continues this one's: same prefix, not its rows.
            ("app-d:x:ann", "app-d:x", 700),
        ):
            await s.put_debounce(PendingDebounce(key, fid, f"ev-{key}", {"n": 1}, 100, due))
        await s.create_runs(
            [NewRun(run_at(i, 1, fn=fn, status=RunStatus.RUNNING)) for i, fn in RUNS.items()]
        )
        for key, run_id in (("app-s:ann", "r1"), ("app-s:bob", "r2"), ("app-s:x:ann", "r3")):
            assert await s.claim_singleton(key, run_id) is None
        await s.add_to_batch("app-b", "k2", "e1", 10, new_id="B2", now=50)
        await s.add_to_batch("app-b", "k1", "e2", 20, new_id="B1", now=60)
        await s.add_to_batch("app-b", "k1", "e3", 30, new_id="B3", now=70)
        await s.add_to_batch("app-other", "k1", "e4", 40, new_id="B4", now=80)
    async with store.read() as r:
        debounces = await r.debounces_due("app-d:", "app-d", 10)
        assert debounces == Bounded(
            [
                DebounceDue("app-d:ann", "ev-app-d:ann", 100, 900),
                DebounceDue("app-d:bob", "ev-app-d:bob", 100, 800),
            ],
            False,
        )
        assert (await r.debounces_due("app-d:", "app-d", 1)).more
        holders = await r.singleton_holders("app-s:", "app-s", 10)
        assert holders == Bounded(
            [
                SingletonHolder("app-s:ann", "r1", RunStatus.RUNNING),
                SingletonHolder("app-s:bob", "r2", RunStatus.RUNNING),
            ],
            False,
        )
        assert (await r.singleton_holders("app-s:", "app-s", 1)).more
        assert await r.open_batches("app-b", 10) == Bounded(
            [BatchRow("B1", "k1", 2, 50, 60), BatchRow("B2", "k2", 1, 10, 50)], False
        )
        assert await r.open_batches("app-b", 1) == Bounded([BatchRow("B1", "k1", 2, 50, 60)], True)
        assert await r.open_batches("app-none", 10) == Bounded([], False)


async def test_a_functions_flow_control_now_as_the_engine_left_it(store: Store) -> None:
    user = "event.data.user"
    functions = [
        function("app-conc", 0, concurrency=[{"limit": 1, "key": user}]),
        function(
            "app-thr",
            0,
            throttle={"limit": 1, "period": "1m", "key": user},
            rateLimit={"limit": 10, "period": "1m"},
        ),
        function("app-single", 0, singleton={"mode": "skip", "key": user}),
        function("app-batch", 0, batchEvents={"maxSize": 5, "timeout": "1m", "key": user}),
        function("app-deb", 0, debounce={"period": "10s", "key": user}),
        function("app-plain", 0),
    ]
    m = machine(*functions)
    now = 1_000_000
    events = [go(i, now, user=u) for i, u in enumerate(["ann", "ann", "bob", "ann"])]
    async with store.tx() as s:
        await m.ingest(s, events, now)
    await store.lease("w", now, 100, 1000)
    got = {f.id: await reads.flow_now(store, f, now + 1) for f in functions}

    assert got["app-plain"] is None
    conc = got["app-conc"]
    assert conc is not None and conc.concurrency is not None
    assert (conc.throttle, conc.rate_limit, conc.debounce, conc.batch, conc.singleton) == (
        (None,) * 5
    )
    assert [
        (k.value, k.load.in_flight, k.load.waiting, k.load.limit) for k in conc.concurrency.keys
    ] == [
        ("ann", 1, 2, 1),
        ("bob", 1, 0, 1),
    ]
    thr = got["app-thr"]
    assert thr is not None and thr.throttle is not None and thr.rate_limit is not None
    # One start a minute per user: ann's third run starts in two minutes, bob's next in one.
    assert [(k.value, k.admitted_at) for k in thr.throttle.keys] == [
        ("ann", now + 180_000),
        ("bob", now + 60_000),
    ]
    assert [(k.value, k.admitted_at) for k in thr.rate_limit.keys] == [("", None)]
    single = got["app-single"]
    assert single is not None and single.singleton is not None
    held = {h.value: h for h in single.singleton.holders}
    assert sorted(held) == ["ann", "bob"] and held["ann"].status is RunStatus.QUEUED
    async with store.read() as r:
        holder = await r.get_run(held["ann"].run_id)
    assert holder is not None and holder.function_id == "app-single"
    batch = got["app-batch"]
    assert batch is not None and batch.batch is not None
    assert [(b.value, b.size, b.created_at, b.closes_at) for b in batch.batch.batches] == [
        ("ann", 3, now, now + 60_000),
        ("bob", 1, now, now + 60_000),
    ]
    deb = got["app-deb"]
    assert deb is not None and deb.debounce is not None
    assert deb.debounce.count == 2 and not deb.debounce.more
    assert [(d.value, d.due_at) for d in deb.debounce.pending] == [
        ("ann", now + 10_000),
        ("bob", now + 10_000),
    ]
    assert deb.debounce.pending[0].event_id == events[3].internal_id  # ann's last event
