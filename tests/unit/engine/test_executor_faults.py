"""The executor when the store fails under it: the item whose work failed is released and
done again shortly; the heartbeat keeps only the leases of work in progress."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from outlast.domain import EventRecord, RunRecord, RunStatus
from outlast.engine.caller import CallResult, Done, Ops
from outlast.engine.executor import Executor
from outlast.store import Session
from outlast.store.sqlite import SQLiteStore

from .conftest import MakeMachine, function


class FlakyStore(SQLiteStore):
    """The in-memory store, whose next ``fail_next`` transactions fail to begin."""

    fail_next = 0

    def tx(self) -> AbstractAsyncContextManager[Session]:
        if self.fail_next:
            self.fail_next -= 1
            return _unreachable()
        return super().tx()


@contextlib.asynccontextmanager
async def _unreachable() -> AsyncIterator[Session]:
    raise OSError("the database is unreachable")
    yield  # pragma: no cover


class ArmingCaller:
    """An app that answers "done" at once; its first answer arrives as the store fails."""

    def __init__(self, store: FlakyStore) -> None:
        self.store = store
        self.calls = 0

    async def call(
        self, url: str, payload: dict[str, Any], run_id: str, job_id: str = ""
    ) -> CallResult:
        self.calls += 1
        if self.calls == 1:
            # Saving this answer fails (the group commit tries twice: as a batch, then alone).
            self.store.fail_next = 2
        return Done({"ok": True})


async def test_work_that_failed_on_a_store_error_is_done_again(machine: MakeMachine) -> None:
    store = FlakyStore(":memory:")
    await store.open()
    m = machine(function("app-f", "f"))
    caller = ArmingCaller(store)
    executor = Executor(store, m, m.registry, caller, owner="w", lease_ms=600)  # type: ignore[arg-type]
    async with store.tx() as s:
        [run] = await m.ingest(s, [EventRecord("01E", "go", {"name": "go", "data": {}}, 1)], 1)
    await executor.start()
    try:
        status = (await wait_finished(store, run.id, 8)).status
    finally:
        await executor.stop()
        await store.close()
    # Before, the failed item stayed leased to the worker, whose heartbeat extended it
    # for ever: the run stayed Running until the process restarted.
    assert status is RunStatus.COMPLETED
    assert caller.calls == 2


class GrowingCaller:
    """An app whose every call runs one more step with an output just under 4 MB."""

    def __init__(self) -> None:
        self.calls = 0

    async def call(
        self, url: str, payload: dict[str, Any], run_id: str, job_id: str = ""
    ) -> CallResult:
        self.calls += 1
        return Ops.of([{"op": "StepRun", "id": f"s{self.calls}", "data": "x" * 3_900_000}])


async def test_a_run_whose_state_passes_32_mb_fails(machine: MakeMachine) -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    m = machine(function("app-f", "f"))
    caller = GrowingCaller()
    executor = Executor(store, m, m.registry, caller, owner="w", lease_ms=5000)  # type: ignore[arg-type]
    async with store.tx() as s:
        [run] = await m.ingest(s, [EventRecord("01E", "go", {"name": "go", "data": {}}, 1)], 1)
    await executor.start()
    try:
        found = await wait_finished(store, run.id, 30)
    finally:
        await executor.stop()
        await store.close()
    assert found.status is RunStatus.FAILED
    assert found.error is not None and found.error["name"] == "InngestErrStateOverflowed"
    assert "the limit is 33554432" in found.error["stack"]
    # Nine outputs of 3.9 MB make 35 MB: the call after the ninth is not made.
    assert caller.calls == 9


async def wait_finished(store: SQLiteStore, run_id: str, within_s: float) -> RunRecord:
    deadline = time.monotonic() + within_s
    while True:
        async with store.read() as r:
            found = await r.get_run(run_id)
        assert found is not None
        if found.status.finished or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)
