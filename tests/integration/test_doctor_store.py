"""``stuck_runs`` (``outlast doctor``): unfinished runs that nothing will move on."""

from __future__ import annotations

from outlast.domain import QueueKind, RunRecord, RunStatus, Wait, WaitKind
from outlast.store import NewItem, NewRun, Store


def new_run(run_id: str) -> NewRun:
    return NewRun(
        RunRecord(
            id=run_id,
            function_id="app-f",
            status=RunStatus.QUEUED,
            events=[{"name": "e", "data": {}}],
            event_id=None,
            queued_at=1,
        )
    )


def wait(run_id: str, kind: WaitKind) -> Wait:
    return Wait(
        0, run_id, kind, "s1" if kind is not WaitKind.CANCEL else None, "e", None, None, None, None
    )


async def test_only_runs_nothing_will_move_are_stuck(store: Store) -> None:
    names = ["called", "sleeping", "waiting", "invoking", "cancel-rule-only", "nothing", "done"]
    async with store.tx() as s:
        await s.create_runs([new_run(n) for n in names])
        await s.enqueue(
            [
                NewItem(QueueKind.DISCOVER, "called", 10),
                NewItem(QueueKind.RESUME, "sleeping", 10_000, step="s1"),
            ]
        )
        await s.insert_waits(
            [
                wait("waiting", WaitKind.WAIT),
                wait("invoking", WaitKind.INVOKE),
                wait("cancel-rule-only", WaitKind.CANCEL),
            ]
        )
        for run_id in ("called", "nothing", "cancel-rule-only"):
            assert await s.start_run(run_id, 5)
        assert await s.finish_run("done", RunStatus.COMPLETED, 6, output=None, error=None)
    async with store.read() as r:
        stuck = await r.stuck_runs()
    assert sorted(run.id for run in stuck) == ["cancel-rule-only", "nothing"]
    assert {run.status for run in stuck} == {RunStatus.RUNNING}
