"""The run management queries (store/manage.py), on every store."""

from __future__ import annotations

from outlast.domain import App, EventRecord, FunctionRecord, RunRecord, RunStatus, StepStatus
from outlast.store import NewRun, Store


def run_for(run_id: str, event_id: str, fn: str = "app-a", batch_id: str | None = None) -> NewRun:
    return NewRun(
        RunRecord(
            id=run_id,
            function_id=fn,
            status=RunStatus.QUEUED,
            events=[{"name": "e", "data": {}}],
            event_id=event_id,
            queued_at=1,
            batch_id=batch_id,
        )
    )


async def test_pausing_changes_the_functions_version_once(store: Store) -> None:
    app = App("app", "http://127.0.0.1:1/api", "py", None, "c1", 1)
    fns = [FunctionRecord("app-a", "app", "a", {}), FunctionRecord("app-b", "app", "b", {})]
    async with store.tx() as s:
        await s.put_app(app, fns, 5_000)
    async with store.read() as r:
        v0 = await r.functions_version()
    # A clock behind the newest change still moves the version on.
    async with store.tx() as s:
        paused = await s.set_function_paused("app-a", True, 10)
    assert paused is not None and paused.paused
    async with store.read() as r:
        v1 = await r.functions_version()
        assert v1 != v0 and v1[1] > 5_000
        assert [f.paused for f in await r.list_functions()] == [True, False]
    async with store.tx() as s:
        again = await s.set_function_paused("app-a", True, 20)
        assert again is not None and again.paused
        assert await s.set_function_paused("app-nope", True, 20) is None
    async with store.read() as r:
        assert await r.functions_version() == v1  # nothing changed
    async with store.tx() as s:
        resumed = await s.set_function_paused("app-a", False, 30)
    assert resumed is not None and not resumed.paused


async def test_events_without_run_skip_events_that_started_one(store: Store) -> None:
    events = [
        EventRecord(f"ev{i}", "e", {"name": "e", "data": {"i": i}}, 100 + i) for i in range(8)
    ]
    events.append(EventRecord("other", "x", {"name": "x", "data": {}}, 103))
    async with store.tx() as s:
        await s.insert_events(events)
        # ev1 started a run of app-a; ev2 one of another function only.
        await s.create_runs([run_for("r1", "ev1"), run_for("r2", "ev2", fn="app-b")])
        # ev3 went into a batch of app-a that has run; ev4 is in one still open.
        await s.add_to_batch("app-a", "k", "ev3", 10, new_id="b1", now=1)
        await s.close_batch("b1")
        await s.create_runs([run_for("r3", "ev3", batch_id="b1")])
        await s.add_to_batch("app-a", "k", "ev4", 10, new_id="b2", now=1)

    async def ids(since: int, until: int, after: tuple[int, str], limit: int = 100) -> list[str]:
        async with store.read() as r:
            found = await r.events_without_run(
                "app-a", ["e", "x"], since=since, until=until, after=after, limit=limit
            )
        return [e.internal_id for e in found]

    assert await ids(0, 1_000, (0, "")) == ["ev0", "ev2", "other", "ev5", "ev6", "ev7"]
    assert await ids(102, 106, (102, "")) == ["ev2", "other", "ev5"]  # [since, until)
    assert await ids(0, 1_000, (0, ""), limit=2) == ["ev0", "ev2"]
    assert await ids(0, 1_000, (103, "ev3")) == ["other", "ev5", "ev6", "ev7"]
    async with store.read() as r:
        assert (
            await r.events_without_run("app-a", [], since=0, until=9, after=(0, ""), limit=9) == []
        )


async def test_copy_steps_copies_finished_steps_and_reruns_remember_their_origin(
    store: Store,
) -> None:
    async with store.tx() as s:
        await s.create_runs([run_for("old", "ev1"), run_for("new", "ev1")])
        for i, h in enumerate(["a", "b", "c"]):
            await s.complete_step(
                "old",
                h,
                name=h,
                op="StepRun",
                memo={"data": i},
                status=StepStatus.COMPLETED,
                now=10 + i,
                started_at=5 + i,
                attempts=2,
            )
        await s.upsert_step(
            "old", "d", name="d", op="StepPlanned", status=StepStatus.PLANNED, now=1
        )
        assert await s.copy_steps("old", "new", ["a", "b", "d"]) == 2
        assert await s.copy_steps("old", "new", []) == 0
        await s.set_original_run("new", "old")
    async with store.read() as r:
        assert await r.load_memos("new") == {"a": {"data": 0}, "b": {"data": 1}}
        a = next(st for st in await r.list_steps("new") if st.hash == "a")
        assert (a.name, a.attempts, a.started_at, a.ended_at, a.done) == ("a", 2, 5, 10, True)
        assert await r.original_runs(["new", "old", "nope"]) == {"new": "old"}
        assert await r.original_runs([]) == {}
