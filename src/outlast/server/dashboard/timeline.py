"""The geometry of a run's waterfall: one row per step, its bars placed to scale.

Pure: a run, its steps and their failed attempts in, positions (percent of the run's span)
out; the template only draws them. A step's row has a *queued* bar (from when it was
planned to its first attempt), one bar per failed attempt, and its last bar: the attempt
that finished it (ok / error), the one still going (running), or the time it spent
sleeping or waiting for an event or an invoked run (which span planned → resolved).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outlast.domain import (
    DISCOVERY_HASH,
    RunRecord,
    RunStatus,
    StepAttempt,
    StepRecord,
    StepStatus,
)
from outlast.protocol.ops import Opcode

#: A bar's outcome, as ``data-outcome`` shows it.
OK, ERROR, RUNNING, SLEEPING, WAITING = "ok", "error", "running", "sleeping", "waiting"
#: Ops of steps that are not code running in the app: their bar spans planned → resolved.
SLEEP_OPS = frozenset({Opcode.SLEEP.value})
WAIT_OPS = frozenset({Opcode.WAIT_FOR_EVENT.value, Opcode.INVOKE.value})
_PAUSED = {StepStatus.SLEEPING: SLEEPING, StepStatus.WAITING: WAITING}
_PAUSED[StepStatus.INVOKING] = WAITING
#: Tick marks along the time axis.
TICKS = 4


@dataclass(frozen=True, slots=True)
class Bar:
    #: "queued", "run" (a step's code in the app), "sleep", "wait", or "call" (a failed
    #: call of the function's own code, on the run's row).
    kind: str
    #: ok / error / running / sleeping / waiting; "queued" for a queued bar.
    outcome: str
    #: 0-based attempt index; None for a queued bar.
    attempt: int | None
    start: int
    end: int
    #: Position and length in percent of the timeline's span.
    left: float
    width: float
    error: dict[str, Any] | None = None

    @property
    def duration_ms(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Row:
    step: StepRecord
    #: The step's name as the user wrote it (its id when it has none).
    label: str
    bars: list[Bar]
    #: Wall time from the first attempt's start (a pause's: planned) to the end.
    duration_ms: int | None

    @property
    def attempts(self) -> list[Bar]:
        return [b for b in self.bars if b.attempt is not None]


@dataclass(frozen=True, slots=True)
class Tick:
    left: float
    offset_ms: int


@dataclass(frozen=True, slots=True)
class Timeline:
    start: int
    end: int
    #: The run's own row: queued, then running / its outcome.
    run_bars: list[Bar]
    rows: list[Row]
    ticks: list[Tick]


class _Scale:
    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.span = max(end - start, 1)

    def bar(
        self,
        kind: str,
        outcome: str,
        attempt: int | None,
        start: int,
        end: int,
        error: dict[str, Any] | None = None,
    ) -> Bar:
        end = max(end, start)
        return Bar(
            kind=kind,
            outcome=outcome,
            attempt=attempt,
            start=start,
            end=end,
            left=round((start - self.start) * 100 / self.span, 3),
            width=round((end - start) * 100 / self.span, 3),
            error=error,
        )


def _kind(step: StepRecord) -> str:
    if step.op in SLEEP_OPS or step.status is StepStatus.SLEEPING:
        return "sleep"
    if step.op in WAIT_OPS or step.status in (StepStatus.WAITING, StepStatus.INVOKING):
        return "wait"
    return "run"


def _failed(step: StepRecord, attempts: Sequence[StepAttempt]) -> list[StepAttempt]:
    return sorted(
        (a for a in attempts if a.hash == step.hash), key=lambda a: (a.attempt, a.ended_at)
    )


def _row(scale: _Scale, step: StepRecord, failed: list[StepAttempt], now: int) -> Row:
    label = step.name or step.hash
    planned = step.scheduled_at
    kind = _kind(step)
    bars: list[Bar] = []
    if kind != "run":
        # A pause: one bar from planned to resolved (or now).
        start = planned or step.started_at or step.ended_at or now
        end = step.ended_at if step.done and step.ended_at is not None else now
        if step.done:
            outcome = ERROR if step.status is StepStatus.FAILED else OK
        else:
            outcome = _PAUSED.get(step.status, SLEEPING if kind == "sleep" else WAITING)
        bars.append(scale.bar(kind, outcome, 0, start, end, step.error))
        return Row(step, label, bars, end - start)
    for i, a in enumerate(failed):
        # A start the store does not know (a checkpointed step) shows as an instant.
        begun = a.started_at if a.started_at is not None else a.ended_at
        bars.append(scale.bar("run", ERROR, i, begun, a.ended_at, a.error))
    failed_for_good = step.done and step.status is StepStatus.FAILED
    if step.done and not (failed_for_good and bars):
        # (A step that failed for good has its last attempt among the failed ones: drawn.)
        end = step.ended_at if step.ended_at is not None else now
        start = step.started_at if step.started_at is not None else end
        outcome = ERROR if failed_for_good else OK
        bars.append(scale.bar("run", outcome, len(failed), start, end, step.error))
    elif not step.done:
        # Planned, running, or waiting for its next try: the time since the last news.
        start = bars[-1].end if bars else (planned or now)
        bars.append(scale.bar("run", RUNNING, len(failed), start, now))
    first_start = bars[0].start
    drawn: list[Bar] = []
    if planned is not None and planned < first_start:
        drawn.append(scale.bar("queued", "queued", None, planned, first_start))
    for i, b in enumerate(bars):
        if i and b.start > bars[i - 1].end:
            # Between two attempts: waiting for the retry (its backoff), queued again.
            drawn.append(scale.bar("queued", "queued", None, bars[i - 1].end, b.start))
        drawn.append(b)
    return Row(step, label, drawn, bars[-1].end - first_start)


def _run_bars(scale: _Scale, run: RunRecord, calls: Sequence[StepAttempt], now: int) -> list[Bar]:
    end = run.ended_at if run.ended_at is not None else now
    if run.started_at is None:
        # Never called: queued until now, or until it was cancelled.
        return [scale.bar("queued", "queued", None, run.queued_at, end)]
    outcome = {
        RunStatus.COMPLETED: OK,
        RunStatus.FAILED: ERROR,
        RunStatus.CANCELLED: ERROR,
    }.get(run.status, RUNNING)
    bars = []
    if run.started_at > run.queued_at:
        bars.append(scale.bar("queued", "queued", None, run.queued_at, run.started_at))
    bars.append(scale.bar("run", outcome, None, run.started_at, end, run.error))
    # Failed calls of the function's own code (between steps), drawn over the run's bar.
    for a in sorted(calls, key=lambda a: a.ended_at):
        begun = a.started_at if a.started_at is not None else a.ended_at
        bars.append(scale.bar("call", ERROR, a.attempt, begun, a.ended_at, a.error))
    return bars


def build(
    run: RunRecord, steps: Sequence[StepRecord], attempts: Sequence[StepAttempt], now: int
) -> Timeline:
    """The waterfall of ``run`` at ``now`` (unix ms): the span runs from the run's creation
    to its end (now while it goes on), or to the last bar if one ends later."""
    start = run.queued_at
    end = run.ended_at if run.ended_at is not None else max(now, start)
    for step in steps:
        for t in (step.scheduled_at, step.started_at, step.ended_at):
            if t is not None:
                start, end = min(start, t), max(end, t)
    for a in attempts:
        for t in (a.started_at, a.ended_at):
            if t is not None:
                start, end = min(start, t), max(end, t)
    scale = _Scale(start, end)
    now = max(now, start)
    rows = [_row(scale, s, _failed(s, attempts), now) for s in steps]
    calls = [a for a in attempts if a.hash == DISCOVERY_HASH]
    ticks = [
        Tick(round(i * 100 / TICKS, 3), round(i * scale.span / TICKS)) for i in range(TICKS + 1)
    ]
    return Timeline(start, end, _run_bars(scale, run, calls, now), rows, ticks)
