"""JS SDK v4 checkpoints: steps saved during a call, refused when the call is stale
(in-memory store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outlast.domain import QueueKind, RunRecord, RunStatus
from outlast.engine import checkpoint
from outlast.engine.checkpoint import CheckpointRefused
from outlast.store import NewItem, NewRun, Store


def step(step_id: str, data: Any) -> dict[str, Any]:
    return {"op": "StepRun", "id": step_id, "displayName": step_id, "data": data}


async def running_run(store: Store) -> str:
    """A running run with its call leased; returns the call's qi_id."""
    run = RunRecord("r1", "app-fn", RunStatus.QUEUED, [{"name": "e", "data": {}}], "ev", 1)
    async with store.tx() as s:
        await s.create_runs([NewRun(run)])
        await s.start_run("r1", 2)
        await s.enqueue([NewItem(QueueKind.DISCOVER, "r1", 0)])
    [item] = await store.lease("w", 10, 10, 1000)
    return checkpoint.call_id(item.id, item.attempt)


async def test_steps_of_the_current_call_are_saved_in_order(memory_store: Store) -> None:
    qi_id = await running_run(memory_store)
    async with memory_store.tx() as s:
        body = {"qi_id": qi_id, "steps": [step("a", 1), step("b", {"x": 2})]}
        assert await checkpoint.apply(s, "r1", body, 20) == 2
        # A checkpoint sent again (the SDK retries on network errors) changes nothing.
        assert await checkpoint.apply(s, "r1", {"qi_id": qi_id, "steps": [step("a", 9)]}, 21)
    async with memory_store.read() as r:
        assert await r.load_memos("r1") == {"a": {"data": 1}, "b": {"data": {"x": 2}}}
        run = await r.get_run("r1")
        assert run is not None and run.stack == ["a", "b"]


def retried(qi_id: str) -> str:
    item_id, attempt = qi_id.split(":")
    return f"{item_id}:{int(attempt) + 1}"


@pytest.mark.parametrize(
    ("make_body", "status"),
    [
        (lambda qi: {"qi_id": "999:0", "steps": [step("a", 1)]}, 409),  # another call
        (lambda qi: {"qi_id": retried(qi), "steps": [step("a", 1)]}, 409),  # retried since
        (lambda qi: {"qi_id": "nonsense", "steps": [step("a", 1)]}, 409),
        (lambda qi: {"qi_id": qi, "steps": [step("a", 1), {"op": "Sleep", "id": "s"}]}, 400),
        (lambda qi: {"qi_id": qi, "steps": "no"}, 400),
        (lambda qi: "not an object", 400),
    ],
)
async def test_stale_or_malformed_checkpoints_are_refused_and_save_nothing(
    memory_store: Store, make_body: Callable[[str], Any], status: int
) -> None:
    qi_id = await running_run(memory_store)
    async with memory_store.tx() as s:
        with pytest.raises(CheckpointRefused) as refused:
            await checkpoint.apply(s, "r1", make_body(qi_id), 20)
    assert refused.value.status == status
    async with memory_store.read() as r:
        assert await r.load_memos("r1") == {}


async def test_a_finished_or_unknown_run_takes_no_checkpoint(memory_store: Store) -> None:
    qi_id = await running_run(memory_store)
    async with memory_store.tx() as s:
        with pytest.raises(CheckpointRefused) as unknown:
            await checkpoint.apply(s, "nope", {"qi_id": qi_id, "steps": []}, 20)
        await s.finish_run("r1", RunStatus.CANCELLED, 30)
        with pytest.raises(CheckpointRefused) as ended:
            await checkpoint.apply(s, "r1", {"qi_id": qi_id, "steps": [step("a", 1)]}, 40)
    assert (unknown.value.status, ended.value.status) == (404, 409)
