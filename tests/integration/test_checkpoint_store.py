"""Checkpoints saved in batches (``engine.checkpoint.apply_batch`` → ``Store.save_checkpoints``:
one statement on PostgreSQL), on every store: saved steps, stale or refused checkpoints
writing nothing, and one refusal not failing the rest of its batch."""

from __future__ import annotations

from typing import Any

from outlast.domain import QueueKind, RunRecord, RunStatus, StepStatus
from outlast.engine import checkpoint
from outlast.engine.checkpoint import Checkpoint, CheckpointRefused
from outlast.protocol.ops import MAX_STEP_OUTPUT_BYTES
from outlast.store import NewItem, NewRun, Store


def step(step_id: str, data: Any) -> dict[str, Any]:
    return {"op": "StepRun", "id": step_id, "displayName": f"name-{step_id}", "data": data}


def timed(op: dict[str, Any], ms: int) -> dict[str, Any]:
    """The op with the ``timing`` Outlast's SDK adds: it ran for ``ms`` (app clock)."""
    return {**op, "timing": {"start": 1_000_000, "end": 1_000_000 + ms}}


async def running_runs(store: Store, *run_ids: str) -> dict[str, str]:
    """Running runs with their calls leased; each run's qi_id."""
    runs = [
        NewRun(RunRecord(r, "app-fn", RunStatus.QUEUED, [{"name": "e", "data": {}}], None, 1))
        for r in run_ids
    ]
    async with store.tx() as s:
        await s.create_runs(runs)
        for r in run_ids:
            await s.start_run(r, 2)
        await s.enqueue([NewItem(QueueKind.DISCOVER, r, 0) for r in run_ids])
    items = await store.lease("w", 10, 100, 60_000)
    return {str(i.run_id): checkpoint.call_id(i.id, i.attempt) for i in items}


async def test_a_batch_saves_each_checkpoint_or_refuses_it_alone(store: Store) -> None:
    qi = await running_runs(store, "r1", "r2", "r3", "r4")
    async with store.tx() as s:
        await s.finish_run("r4", RunStatus.CANCELLED, 5)
    big = "x" * (MAX_STEP_OUTPUT_BYTES + 10)
    batch = [
        Checkpoint("r2", {"qi_id": qi["r2"], "steps": [step("a", 1), step("b", {"n": 2})]}, 20),
        Checkpoint("r1", {"qi_id": qi["r1"], "steps": [timed(step("a", "one"), 5)]}, 20),
        Checkpoint("r3", {"qi_id": "999999:0", "steps": [step("a", 1)]}, 20),  # another call
        Checkpoint("r4", {"qi_id": qi["r4"], "steps": [step("a", 1)]}, 20),  # cancelled
        Checkpoint("nope", {"qi_id": qi["r1"], "steps": [step("a", 1)]}, 20),  # no such run
        Checkpoint("r1", {"qi_id": qi["r1"], "steps": [{"op": "Sleep", "id": "s"}]}, 20),
        Checkpoint("r3", {"qi_id": qi["r3"], "steps": [step("big", big)]}, 20),  # too big
    ]
    results = await checkpoint.apply_batch(store, batch)
    assert results[:2] == [2, 1]
    refused = [r for r in results[2:] if isinstance(r, CheckpointRefused)]
    assert [r.status for r in refused] == [409, 409, 404, 400, 413]
    assert "not the run's current one" in refused[0].message
    assert refused[1].message == "run is cancelled: stale dispatch"
    async with store.read() as r:
        assert await r.load_memos("r1") == {"a": {"data": "one"}}
        [timed_step] = await r.list_steps("r1")
        assert (timed_step.started_at, timed_step.ended_at) == (15, 20)  # ran 5 ms
        untimed = [st for st in await r.list_steps("r2") if st.hash == "a"]
        assert untimed[0].started_at is None
        assert await r.load_memos("r2") == {"a": {"data": 1}, "b": {"data": {"n": 2}}}
        assert await r.load_memos("r4") == {}
        run2 = await r.get_run("r2")
        assert run2 is not None and run2.stack == ["a", "b"]
        [saved] = [st for st in await r.list_steps("r2") if st.hash == "b"]
        assert (saved.name, saved.op, saved.status, saved.attempts) == (
            "name-b",
            "StepRun",
            StepStatus.COMPLETED,
            1,
        )
        # An output over the limit is refused, not saved: the SDK then answers the step,
        # and the answer fails it (it would go on after a saved checkpoint).
        assert await r.list_steps("r3") == []


async def test_a_checkpoint_sent_again_changes_nothing(store: Store) -> None:
    qi = await running_runs(store, "r1")
    body = {"qi_id": qi["r1"], "steps": [step("a", 1)]}
    assert await checkpoint.apply_batch(store, [Checkpoint("r1", body, 20)]) == [1]
    again = {"qi_id": qi["r1"], "steps": [step("a", 9)]}
    assert await checkpoint.apply_batch(store, [Checkpoint("r1", again, 21)]) == [1]
    async with store.read() as r:
        assert await r.load_memos("r1") == {"a": {"data": 1}}
        run = await r.get_run("r1")
        assert run is not None and run.stack == ["a"]
