"""Parallel groups (in-memory store): the app is called again once a group is in whole (a
sleep, wait or invoke among it counted), or after any one of it in race mode; a discovery
call that raced a step's result."""

from __future__ import annotations

from typing import Any

from outlast.domain import QueueItem, QueueKind, RunStatus, StepStatus
from outlast.engine.caller import Ops
from outlast.engine.machine import Machine
from outlast.store import Store

from .conftest import MakeMachine, due_items, first_answer, function

RACE = function("app-race", "race")


def planned(step: str, mode: str | None = "race") -> dict[str, object]:
    opts = {"parallelMode": mode} if mode else {}
    return {"op": "StepPlanned", "id": step, "displayName": step, "opts": opts}


def sleep(step: str, mode: str | None = None) -> dict[str, object]:
    opts: dict[str, Any] = {"duration": "1s"}
    if mode:
        opts["parallelMode"] = mode
    return {"op": "Sleep", "id": step, "displayName": step, "opts": opts}


def wait(step: str, mode: str | None = None) -> dict[str, object]:
    opts: dict[str, Any] = {"event": "never", "timeout": "1h"}
    if mode:
        opts["parallelMode"] = mode
    return {"op": "WaitForEvent", "id": step, "displayName": step, "opts": opts}


async def _planned_run(store: Store, m: Machine, ops: list[dict[str, object]]) -> str:
    """A run whose first call answered with ``ops`` (a parallel group)."""
    run, nxt = await first_answer(store, m, "app-race", ops)
    assert nxt is None
    return run.id


async def _run_step(store: Store, m: Machine, step: str, now: int) -> QueueItem | None:
    """The app ran planned step ``step``: what the machine queued next for the run."""
    spec = m.registry.get("app-race")
    assert spec is not None
    [item] = [i for i in await due_items(store, QueueKind.STEP) if i.step == step]
    async with store.tx() as s:
        done = Ops.of([{"op": "StepRun", "id": step, "data": step}])
        return await m.apply(s, item, spec, done, now, now + 1)


async def _wake(store: Store, m: Machine, step: str, now: int) -> None:
    [timer] = [i for i in await due_items(store, QueueKind.RESUME) if i.step == step]
    async with store.tx() as s:
        await m.fire(s, timer, now)


async def _discoveries(store: Store) -> int:
    return len(await due_items(store, QueueKind.DISCOVER))


async def test_a_group_with_a_sleep_calls_the_app_once_all_of_it_is_in(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(RACE)
    await _planned_run(memory_store, m, [sleep("nap"), planned("a", None), planned("b", None)])
    assert await _run_step(memory_store, m, "a", 10) is None
    await _wake(memory_store, m, "nap", 1_100)
    assert await _discoveries(memory_store) == 0  # "b" is still out
    follow_up = await _run_step(memory_store, m, "b", 1_200)
    assert follow_up is not None and follow_up.kind is QueueKind.DISCOVER


async def test_a_group_with_a_wait_calls_the_app_when_the_wait_resolves_last(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(RACE)
    run_id = await _planned_run(memory_store, m, [wait("reply"), planned("a", None)])
    assert await _run_step(memory_store, m, "a", 10) is None
    assert await _discoveries(memory_store) == 0  # the wait is still out
    async with memory_store.tx() as s:
        assert await m.resolve_wait(s, run_id, "reply", {"name": "never"}, 20)
    assert await _discoveries(memory_store) == 1


async def test_in_race_mode_a_sleep_moves_the_run_on_by_itself(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(RACE)
    await _planned_run(memory_store, m, [sleep("nap", "race"), planned("a")])
    await _wake(memory_store, m, "nap", 1_100)
    assert await _discoveries(memory_store) == 1  # "a" is still out: no matter


async def test_a_race_lost_by_a_wait_does_not_hold_back_later_groups(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(RACE)
    spec = m.registry.get("app-race")
    assert spec is not None
    await _planned_run(memory_store, m, [wait("reply", "race"), planned("a")])
    follow_up = await _run_step(memory_store, m, "a", 10)
    assert follow_up is not None and follow_up.kind is QueueKind.DISCOVER
    # The run goes on past the race (its wait still open) to a group of its own.
    async with memory_store.tx() as s:
        plan = Ops.of([planned("b", None), planned("c", None)])
        await m.apply(s, follow_up, spec, plan, 20, 21)
    assert await _run_step(memory_store, m, "b", 30) is None
    last = await _run_step(memory_store, m, "c", 40)
    assert last is not None and last.kind is QueueKind.DISCOVER


async def test_a_late_plan_of_a_finished_step_does_not_run_it_again(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(RACE)
    spec = m.registry.get("app-race")
    assert spec is not None
    run, _ = await first_answer(memory_store, m, "app-race", [planned("a"), planned("b")])
    # Step "a" finishes; in race mode its item is followed at once by a discovery call.
    items = await memory_store.lease("test", 4, 10, 1000)
    [a] = [i for i in items if i.step == "a"]
    async with memory_store.tx() as s:
        done = Ops.of([{"op": "StepRun", "id": "a", "data": 1}])
        follow_up = await m.apply(s, a, spec, done, 4, 5)
    assert follow_up is not None and follow_up.kind is QueueKind.DISCOVER
    # That discovery call began before "a" was saved, so the app plans "a" and "b" again.
    async with memory_store.tx() as s:
        await m.apply(s, follow_up, spec, Ops.of([planned("a"), planned("b")]), 6, 7)
    queued = await memory_store.lease("test", 10_000, 10, 1000)
    assert sorted(str(i.step) for i in queued if i.kind is QueueKind.STEP) == ["b"]
    async with memory_store.read() as r:
        steps = {st.hash: st for st in await r.list_steps(run.id)}
        current = await r.get_run(run.id)
    assert steps["a"].status is StepStatus.COMPLETED
    assert current is not None and current.status is RunStatus.RUNNING
