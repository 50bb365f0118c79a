"""Parallel steps in race mode: a discovery call that raced a step's result (in-memory store)."""

from __future__ import annotations

from outlast.domain import EventRecord, QueueKind, RunStatus, StepStatus
from outlast.engine.caller import Ops
from outlast.store import Store

from .conftest import MakeMachine, function

RACE = function("app-race", "race")


def planned(step: str) -> dict[str, object]:
    return {"op": "StepPlanned", "id": step, "displayName": step, "opts": {"parallelMode": "race"}}


async def test_a_late_plan_of_a_finished_step_does_not_run_it_again(
    memory_store: Store, machine: MakeMachine
) -> None:
    m = machine(RACE)
    spec = m.registry.get("app-race")
    assert spec is not None
    event = EventRecord("01EVENT", "go", {"name": "go", "data": {}, "id": "e1", "ts": 1}, 1)
    async with memory_store.tx() as s:
        [run] = await m.ingest(s, [event], 1)
    [discover] = await memory_store.lease("test", 1, 10, 1000)
    async with memory_store.tx() as s:
        plan = Ops.of([planned("a"), planned("b")])
        await m.apply(s, discover, spec, plan, 2, 3)
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
