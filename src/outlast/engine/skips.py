"""Why an event started no run (the dashboard's events page): the reasons are collected
while events are matched and runs created, and written together, in the same transaction,
with one statement. A batch of events that all start their runs writes nothing."""

from __future__ import annotations

from collections.abc import Sequence

from outlast.domain import EventRecord, EventSkip, RunRecord, SkipReason
from outlast.protocol.ops import RESERVED_PREFIX
from outlast.store import NewRun


def filtered(rec: EventRecord, function_id: str, now: int) -> EventSkip | None:
    """The skip of an event a trigger's expression refused. None for the server's own
    events (``inngest/function.failed`` ...): every failure handler filters them by the
    function they are for, so a run's end would write a row for each handler it is not."""
    if rec.name.startswith(RESERVED_PREFIX):
        return None
    return EventSkip(rec.internal_id, function_id, SkipReason.FILTERED, now)


def of_runs(
    wanted: Sequence[NewRun],
    created: Sequence[RunRecord],
    kept: Sequence[RunRecord],
    now: int,
) -> list[EventSkip]:
    """Why the runs ``wanted`` that did not start were skipped: a key held by another run
    (not ``created``: event id, idempotency, cron tick), or a singleton held (created but
    not ``kept``). Runs without a trigger event have nothing to record."""
    made = {r.id for r in created}
    started = {r.id for r in kept}
    out: list[EventSkip] = []
    for nr in wanted:
        run = nr.run
        if run.id in started or run.event_id is None:
            continue
        reason = SkipReason.SINGLETON if run.id in made else SkipReason.DEDUPLICATED
        out.append(EventSkip(run.event_id, run.function_id, reason, now))
    return out
