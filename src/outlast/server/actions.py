"""What the REST API and the dashboard both do to runs, checked the same way: cancelling a
run. Errors are ``engine.manage``'s (``NotFound``, ``Conflict``, ``Invalid``), each with a
message for the user."""

from __future__ import annotations

from outlast.domain import RunRecord
from outlast.engine import manage
from outlast.engine.runtime import Engine

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
