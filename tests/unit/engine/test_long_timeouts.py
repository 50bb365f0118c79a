"""Sleeps and waits past 366 days are refused by the server, whatever the SDK (in-memory
store): the step fails with Inngest's error and the run goes on to see it."""

from __future__ import annotations

import pytest

from outlast.domain import QueueKind, StepStatus
from outlast.store import Store

from .conftest import MakeMachine, due_items, first_answer, function

FN = function("app-long", "long")


@pytest.mark.parametrize(
    ("op", "says"),
    [
        ({"op": "Sleep", "id": "nap", "opts": {"duration": "400d"}}, "The sleep '400d' ends"),
        ({"op": "Sleep", "id": "nap", "opts": {"duration": "2999-01-01T00:00:00Z"}}, "sleep"),
        (
            {"op": "WaitForEvent", "id": "nap", "opts": {"event": "x", "timeout": "367d"}},
            "The wait-for-event timeout '367d' expires",
        ),
    ],
)
async def test_a_sleep_or_wait_past_a_year_fails_its_step(
    memory_store: Store, machine: MakeMachine, op: dict[str, object], says: str
) -> None:
    run, _ = await first_answer(memory_store, machine(FN), "app-long", [op])
    async with memory_store.read() as r:
        [step] = await r.list_steps(run.id)
    assert step.status is StepStatus.FAILED
    assert step.error is not None and step.error["name"] == "InngestErrTimeoutTooLong"
    assert says in step.error["message"]
    # No timer a year out: the run is called again at once, to see the error.
    assert await due_items(memory_store, QueueKind.RESUME) == []
    assert len(await due_items(memory_store, QueueKind.DISCOVER)) == 1


async def test_a_sleep_of_a_year_is_accepted(memory_store: Store, machine: MakeMachine) -> None:
    sleep = {"op": "Sleep", "id": "nap", "opts": {"duration": "365d"}}
    await first_answer(memory_store, machine(FN), "app-long", [sleep])
    [timer] = await due_items(memory_store, QueueKind.RESUME)
    assert timer.due_at == 3 + 365 * 24 * 3600 * 1000
