"""Group commit: answers arriving together are saved by one ``steps_done`` call; a batch
that fails is saved one by one, so one bad answer fails only itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest

from outlast.domain import QueueItem, QueueKind
from outlast.engine import group_commit
from outlast.engine.group_commit import GroupCommit, Saved, steps_done
from outlast.store import Store
from outlast.store.rows import StepDone


def done(run_id: str) -> StepDone:
    return StepDone(run_id, 1, "s", None, "StepRun", '{"data":1}', 0, 1, 0, 0, "w")


class FakeStore:
    writers = 1

    def __init__(self, bad: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.bad = bad

    async def steps_done(self, batch: Sequence[StepDone]) -> list[tuple[QueueItem, int] | None]:
        self.batches.append([d.run_id for d in batch])
        await asyncio.sleep(0.01)  # a commit takes time: answers pile up meanwhile
        if self.bad in (d.run_id for d in batch):
            raise RuntimeError(f"cannot save {self.bad}")
        item = QueueItem(1, None, QueueKind.DISCOVER, None, None, 0, 0)
        return [(item, len(d.run_id)) for d in batch]


def saver(store: FakeStore) -> GroupCommit[StepDone, Saved]:
    return steps_done(cast(Store, store))


async def test_answers_that_arrive_together_are_committed_together() -> None:
    store = FakeStore()
    group = saver(store)
    first = asyncio.create_task(group.save(done("a")))
    await asyncio.sleep(0)  # "a" is being committed; the next ones wait for the next commit
    rest = [asyncio.create_task(group.save(done(r))) for r in ("bb", "ccc")]
    results: list[Any] = await asyncio.gather(first, *rest)
    assert store.batches == [["a"], ["bb", "ccc"]]
    assert [r[1] for r in results] == [1, 2, 3]


async def test_a_failing_batch_is_saved_one_by_one() -> None:
    store = FakeStore(bad="x")
    group = saver(store)
    tasks = [asyncio.create_task(group.save(done(r))) for r in ("a", "x", "b")]
    ok_a, failed, ok_b = await asyncio.gather(*tasks, return_exceptions=True)
    assert store.batches == [["a", "x", "b"], ["a"], ["x"], ["b"]]
    assert isinstance(failed, RuntimeError)
    assert ok_a is not None and ok_b is not None and not isinstance(ok_a, BaseException)


async def test_a_caller_that_gave_up_does_not_break_the_others() -> None:
    group = saver(FakeStore())
    gone = asyncio.create_task(group.save(done("a")))
    kept = asyncio.create_task(group.save(done("b")))
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert (await kept) is not None


async def test_work_on_runs_commits_in_one_transaction_in_run_order() -> None:
    """``transactions``: work arriving during a commit shares the next transaction, done in
    run-id order (two batches lock runs in the same order); a failing piece of work makes
    the batch roll back and be done again one by one, so it fails alone."""
    log: list[tuple[str, ...]] = []

    @contextlib.asynccontextmanager
    async def tx() -> AsyncIterator[Any]:
        done: list[str] = []
        try:
            yield done
        except Exception:
            log.append(("rollback", *done))
            raise
        await asyncio.sleep(0.01)  # the commit takes time: work piles up meanwhile
        log.append(("commit", *done))

    def work(key: str, fail: bool = False) -> group_commit.Work:
        async def fn(s: Any) -> str:
            if fail:
                raise RuntimeError(f"cannot {key}")
            s.append(key)
            return key.upper()

        return group_commit.Work(key, fn)

    group = group_commit.transactions(tx)
    first = asyncio.create_task(group.save(work("m")))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(group.save(work(k, k == "x"))) for k in ("z", "x", "a")]
    results = await asyncio.gather(first, *rest, return_exceptions=True)
    assert results[0] == "M" and results[1] == "Z" and results[3] == "A"
    assert isinstance(results[2], RuntimeError)
    assert log == [
        ("commit", "m"),
        ("rollback", "a"),  # a, then x failed: the batch is done again one by one
        ("commit", "z"),
        ("rollback",),
        ("commit", "a"),
    ]
