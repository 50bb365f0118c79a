"""Setup shared by the engine tests that drive a Machine over the in-memory store: functions
with one HTTP step, a Machine over a registry holding them, the queue's waiting items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outlast.domain import EventRecord, FunctionRecord, QueueItem, QueueKind, RunRecord
from outlast.engine.caller import Ops
from outlast.engine.machine import Machine, Options
from outlast.engine.registry import Registry
from outlast.store import Store

MakeMachine = Callable[..., Machine]


def function(
    fid: str, name: str, event: str = "go", *, paused: bool = False, **config: Any
) -> FunctionRecord:
    """A function of app ``app`` triggered by ``event``, with one step that is never retried
    (its URL answers nothing: these tests apply the app's answers themselves); ``config``
    adds to the function's configuration or replaces a key of it."""
    step = {
        "id": "step",
        "name": "step",
        "runtime": {"type": "http", "url": "http://127.0.0.1:1/api"},
        "retries": {"attempts": 0},
    }
    raw = {"id": fid, "name": name, "triggers": [{"event": event}], "steps": {"step": step}}
    return FunctionRecord(fid, "app", name, {**raw, **config}, paused=paused)


@pytest.fixture
def machine() -> MakeMachine:
    """Makes a Machine over a registry of the functions it is given."""

    def make(*functions: FunctionRecord) -> Machine:
        registry = Registry()
        registry.load(list(functions), None)
        return Machine(registry, Options(owner="test", lease_ms=1000))

    return make


async def due_items(store: Store, kind: QueueKind) -> list[QueueItem]:
    """The queue's items of a kind, as they are due (without leasing them)."""
    async with store.read() as r:
        rows = await r.c.fetch("SELECT id FROM queue WHERE kind = ? ORDER BY id", (kind.value,))
        items = [await r.get_item(int(row[0])) for row in rows]
    return [i for i in items if i is not None]


async def first_answer(
    store: Store, m: Machine, function_id: str, ops: list[dict[str, Any]]
) -> tuple[RunRecord, QueueItem | None]:
    """A run of ``function_id`` (triggered by a "go" event) whose first call the app
    answered with ``ops``: the run, and what the machine queued next for it in that call."""
    spec = m.registry.get(function_id)
    assert spec is not None
    event = EventRecord("01EVENT", "go", {"name": "go", "data": {}, "id": "e1", "ts": 1}, 1)
    async with store.tx() as s:
        [run] = await m.ingest(s, [event], 1)
    [discover] = await store.lease("test", 1, 10, 1000)
    async with store.tx() as s:
        nxt = await m.apply(s, discover, spec, Ops.of(ops), 2, 3)
    return run, nxt
