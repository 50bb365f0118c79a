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


async def test_the_sdks_timing_gives_each_step_its_start_and_order(memory_store: Store) -> None:
    """The JS SDK's Go-style interval (``a``: start, ``b``: duration, in ns) and Outlast's
    ``{start, end}`` (ms): the last step ended when the checkpoint came, each before it
    in its order, whatever the app's clock says."""
    qi_id = await running_run(memory_store)
    ms = 1_000_000
    app_clock = 5_000_000  # far from the server's: only differences count
    js_a = {**step("a", 1), "timing": {"a": app_clock * ms, "b": 30 * ms}}
    js_b = {**step("b", 2), "timing": {"a": (app_clock + 40) * ms, "b": 10 * ms}}
    outlast_c = {**step("c", 3), "timing": {"start": app_clock + 60, "end": app_clock + 100}}
    async with memory_store.tx() as s:
        body = {"qi_id": qi_id, "steps": [js_a, js_b, outlast_c]}
        assert await checkpoint.apply(s, "r1", body, 10_000) == 3
    async with memory_store.read() as r:
        steps = {st.hash: st for st in await r.list_steps("r1")}
    # c ended at 10 000 (now); a began 100 ms before, b 60, c 40.
    assert [steps[h].started_at for h in "abc"] == [9_900, 9_940, 9_960]
    assert [h.hash for h in sorted(steps.values(), key=lambda st: st.started_at or 0)] == [
        "a",
        "b",
        "c",
    ]


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
