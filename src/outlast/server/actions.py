"""What the REST API and the dashboard both do to runs and functions, checked the same way:
cancelling a run, and invoking a function directly. Errors are ``engine.manage``'s
(``NotFound``, ``Conflict``, ``Invalid``), each with a message for the user."""

from __future__ import annotations

from typing import Any

from outlast.domain import EventRecord, RunRecord
from outlast.engine import manage
from outlast.engine.runtime import Engine
from outlast.protocol import ids, jsonutil
from outlast.protocol.ops import EVENT_FUNCTION_INVOKED

RUN_NOT_FOUND = "run not found"


async def cancel(engine: Engine, run_id: str) -> RunRecord:
    """Cancel an unfinished run; the run as it is afterwards."""
    async with engine.store.read() as r:
        run = await r.get_run(run_id)
    if run is None:
        raise manage.NotFound(RUN_NOT_FOUND)
    if run.status.finished:
        raise manage.Conflict(f"run is already {run.status.api_name.lower()}")
    await engine.cancel_run(run_id)
    async with engine.store.read() as r:
        run = await r.get_run(run_id)
    assert run is not None
    return run


async def invoke(
    engine: Engine, function_id: str, data: dict[str, Any], max_bytes: int
) -> RunRecord:
    """Start a run of the function now, with an ``inngest/function.invoked`` event carrying
    ``data`` (stored like any event, so the run's page shows what it was given), as
    ``step.invoke`` does without a calling run. Triggers, batching and debounce do not apply:
    the function was asked for by name."""
    await engine.refresh()
    spec = engine.registry.get(function_id)
    if spec is None:
        raise manage.NotFound(f"function {function_id!r} is not synced (or its config is invalid)")
    if engine.registry.is_paused(function_id):
        raise manage.Conflict(f"function {function_id!r} is paused: resume it first")
    now = ids.now_ms()
    internal_id = ids.ulid_at(now)
    # As at the event API, "_inngest" in data is the server's to set.
    fields = {k: v for k, v in data.items() if k != "_inngest"}
    payload: dict[str, Any] = {
        "name": EVENT_FUNCTION_INVOKED,
        "data": {**fields, "_inngest": {"fn_id": function_id}},
        "id": internal_id,
        "ts": now,
        "user": {},
    }
    if len(jsonutil.dumps(payload)) > max_bytes:
        raise manage.Invalid(f"the payload is larger than the limit of {max_bytes} bytes")
    event = EventRecord(internal_id, EVENT_FUNCTION_INVOKED, payload, now)
    async with engine.store.tx() as s:
        await s.insert_events([event])
        # Machine._new_run is how engine.manage starts replays and reruns too: the run gets
        # the function's idempotency, singleton and concurrency keys like any other.
        new = engine.machine._new_run(spec, [payload], internal_id, now)
        runs = await engine.machine.start_runs(s, [new], now)
    engine.executor.wake_for(s)
    if not runs:
        raise manage.Conflict(
            "the run was not started: another run holds the function's idempotency or singleton key"
        )
    return runs[0]
