"""Run management through the engine (in-memory store): pause / resume, replay of one
event and of a function's time range, rerun from scratch and from a step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from outlast.domain import App, EventRecord, FunctionRecord, QueueKind, RunStatus, StepStatus
from outlast.engine import manage
from outlast.engine.runtime import Engine, EngineConfig
from outlast.store import Store


def fn(fid: str, triggers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": fid,
        "name": fid,
        "triggers": triggers,
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": "http://127.0.0.1:1/api"},
                "retries": {"attempts": 0},
            }
        },
    }


FUNCTIONS = [
    FunctionRecord("app-greet", "app", "greet", fn("app-greet", [{"event": "signup"}])),
    FunctionRecord(
        "app-vip",
        "app",
        "vip",
        fn("app-vip", [{"event": "signup", "expression": "event.data.vip == true"}]),
    ),
    FunctionRecord("app-tick", "app", "tick", fn("app-tick", [{"cron": "0 * * * *"}])),
]


@pytest.fixture
async def engine(memory_store: Store) -> AsyncIterator[Engine]:
    async with memory_store.tx() as s:
        await s.put_app(App("app", "http://127.0.0.1:1/api", "py", None, "c", 1), FUNCTIONS, 1)
    eng = Engine(memory_store, EngineConfig())
    await eng.reload()
    yield eng
    await eng.caller.close()


def signup(i: int, *, vip: bool = False, user_id: str | None = None) -> EventRecord:
    payload: dict[str, Any] = {"name": "signup", "data": {"n": i, "vip": vip}}
    if user_id:
        payload["id"] = user_id
    return EventRecord(f"01EV{i:04d}", "signup", payload, 1_000 + i)


async def runs_of(engine: Engine, function_id: str) -> list[str]:
    """The event ids of the function's runs, sorted."""
    async with engine.store.read() as r:
        runs = await r.list_runs(function_id=function_id, limit=1000)
    return sorted(str(run.event_id) for run in runs)


async def test_pause_stops_new_runs_for_every_process_and_resume_lets_them_start(
    engine: Engine,
) -> None:
    other = Engine(engine.store, EngineConfig())  # a second server process
    await other.reload()
    before = other.registry.version
    paused = await engine.set_paused("app-greet", True)
    assert paused.paused and engine.registry.is_paused("app-greet")
    again = await engine.set_paused("app-greet", True)  # idempotent
    assert again.paused
    await other.refresh()
    assert other.registry.version != before and other.registry.is_paused("app-greet")

    await engine.ingest([signup(1, vip=True)])
    assert await runs_of(engine, "app-greet") == []
    assert await runs_of(engine, "app-vip") == ["01EV0001"]
    async with engine.store.read() as r:
        assert await r.get_event("01EV0001") is not None  # the event is kept

    resumed = await engine.set_paused("app-greet", False)
    assert not resumed.paused and not engine.registry.is_paused("app-greet")
    await engine.ingest([signup(2)])
    assert await runs_of(engine, "app-greet") == ["01EV0002"]
    with pytest.raises(manage.NotFound, match="function 'app-nope' not found"):
        await engine.set_paused("app-nope", True)


async def test_replay_of_an_event_starts_every_function_it_triggers_despite_its_id(
    engine: Engine,
) -> None:
    await engine.ingest([signup(1, vip=True, user_id="u1")])
    assert await runs_of(engine, "app-greet") == ["01EV0001"]
    # The event's id would block a second run at ingest; a replay is asked for.
    runs = await engine.replay_event("01EV0001")
    assert sorted(run.function_id for run in runs) == ["app-greet", "app-vip"]
    assert await runs_of(engine, "app-greet") == ["01EV0001", "01EV0001"]
    async with engine.store.read() as r:
        assert len(await r.runs_for_event("01EV0001")) == 4

    await engine.set_paused("app-vip", True)
    runs = await engine.replay_event("01EV0001")
    assert [run.function_id for run in runs] == ["app-greet"]
    await engine.ingest([signup(2)])
    runs = await engine.replay_event("01EV0002")  # the vip filter applies
    assert [run.function_id for run in runs] == ["app-greet"]
    with pytest.raises(manage.NotFound, match="event 'nope' not found"):
        await engine.replay_event("nope")


async def test_range_replay_starts_the_runs_skipped_while_paused(engine: Engine) -> None:
    await engine.ingest([signup(1)])
    await engine.set_paused("app-greet", True)
    await engine.ingest([signup(i) for i in range(2, 7)])
    # Events 7 and 8 share an id: ingest would have started one run for both.
    await engine.ingest([signup(7, user_id="dup"), signup(8, user_id="dup")])
    with pytest.raises(manage.Conflict, match="is paused"):
        await engine.replay_function("app-greet", 0, 10_000)
    await engine.set_paused("app-greet", False)

    # [1003, 1006): events 3, 4, 5 only.
    runs, capped = await engine.replay_function("app-greet", 1_003, 1_006)
    assert [run.event_id for run in runs] == ["01EV0003", "01EV0004", "01EV0005"]
    assert not capped
    # The rest, two at a time: events that have a run now are skipped.
    runs, capped = await engine.replay_function("app-greet", 0, 10_000, limit=2)
    assert [run.event_id for run in runs] == ["01EV0002", "01EV0006"] and capped
    runs, capped = await engine.replay_function("app-greet", 0, 10_000, limit=2)
    assert [run.event_id for run in runs] == ["01EV0007"] and not capped
    runs, capped = await engine.replay_function("app-greet", 0, 10_000)
    assert runs == [] and not capped
    assert await runs_of(engine, "app-greet") == [f"01EV000{i}" for i in range(1, 8)]


async def test_range_replay_refuses_functions_it_cannot_replay(engine: Engine) -> None:
    with pytest.raises(manage.Invalid, match="no event trigger"):
        await engine.replay_function("app-tick", 0, 10_000)
    with pytest.raises(manage.Conflict, match="not synced"):
        await engine.replay_function("app-gone", 0, 10_000)


async def finished_steps(engine: Engine, run_id: str, names: list[str]) -> None:
    """Steps h-<name> finished in this order, and one still planned (h-later)."""
    for i, name in enumerate(names):
        async with engine.store.tx() as s:
            await s.complete_step(
                run_id,
                f"h-{name}",
                name=name,
                op="StepRun",
                memo={"data": name.upper()},
                status=StepStatus.COMPLETED,
                now=2_000 + i,
                started_at=2_000 + i,
                attempts=1,
            )
    async with engine.store.tx() as s:
        await s.upsert_step(
            run_id, "h-later", name="later", op="StepPlanned", status=StepStatus.PLANNED, now=3
        )


async def test_rerun_from_scratch_and_from_a_step(engine: Engine) -> None:
    [run] = await engine.ingest([signup(1)])
    await finished_steps(engine, run.id, ["one", "two", "three"])

    scratch = await engine.rerun(run.id)
    assert scratch.kept == [] and scratch.from_step is None
    assert scratch.run.events == run.events and scratch.run.event_id == run.event_id
    async with engine.store.read() as r:
        assert await r.load_memos(scratch.run.id) == {}
        assert await r.original_runs([scratch.run.id, run.id]) == {scratch.run.id: run.id}

    # From "three" (by id): "one" and "two" keep their memos and do not run again.
    mid = await engine.rerun(run.id, "h-three")
    assert mid.kept == ["h-one", "h-two"] and mid.from_step == "h-three"
    async with engine.store.read() as r:
        copy = await r.get_run(mid.run.id)
        assert copy is not None and copy.stack == ["h-one", "h-two"]
        assert copy.status is RunStatus.QUEUED
        assert await r.load_memos(mid.run.id) == {
            "h-one": {"data": "ONE"},
            "h-two": {"data": "TWO"},
        }
        steps = {st.hash: st for st in await r.list_steps(mid.run.id)}
        assert set(steps) == {"h-one", "h-two"} and steps["h-one"].name == "one"
    # By name; from the first step is from scratch; a step that never finished keeps all.
    assert (await engine.rerun(run.id, "two")).kept == ["h-one"]
    assert (await engine.rerun(run.id, "one")).kept == []
    assert (await engine.rerun(run.id, "later")).kept == ["h-one", "h-two", "h-three"]
    # Each rerun is queued to start at once.
    leased = await engine.store.lease("t", 10**15, 100, 1000)
    discovered = {item.run_id for item in leased if item.kind is QueueKind.DISCOVER}
    assert {scratch.run.id, mid.run.id} <= discovered


async def test_rerun_refuses_unknown_runs_steps_and_paused_functions(engine: Engine) -> None:
    [run] = await engine.ingest([signup(1)])
    for step_hash in ("h-loop", "h-loop:1"):  # one step id used twice in a loop
        async with engine.store.tx() as s:
            await s.upsert_step(
                run.id, step_hash, name="loop", op="StepRun", status=StepStatus.RUNNING, now=2
            )
    with pytest.raises(manage.Invalid, match="several steps of the run are named 'loop'"):
        await engine.rerun(run.id, "loop")
    assert (await engine.rerun(run.id, "h-loop:1")).from_step == "h-loop:1"
    with pytest.raises(manage.NotFound, match="run 'nope' not found"):
        await engine.rerun("nope")
    with pytest.raises(manage.Invalid, match="the run has no step 'zzz'"):
        await engine.rerun(run.id, "zzz")
    await engine.set_paused("app-greet", True)
    with pytest.raises(manage.Conflict, match="is paused"):
        await engine.rerun(run.id)


def test_functions_are_named_by_full_id_or_by_app_local_id() -> None:
    records = [
        *FUNCTIONS,
        FunctionRecord("other-greet", "other", "greet", {}),
        FunctionRecord("other-solo", "other", "solo", {}),
    ]
    assert manage.resolve_function(records, "app-greet", None) == "app-greet"
    assert manage.resolve_function(records, "greet", "other") == "other-greet"
    assert manage.resolve_function(records, "app-greet", "app") == "app-greet"
    assert manage.resolve_function(records, "solo", None) == "other-solo"
    with pytest.raises(manage.Invalid, match="several apps"):
        manage.resolve_function(records, "greet", None)
    with pytest.raises(manage.NotFound, match="not found in app 'app'"):
        manage.resolve_function(records, "solo", "app")
    with pytest.raises(manage.NotFound, match="'nope' not found"):
        manage.resolve_function(records, "nope", None)
