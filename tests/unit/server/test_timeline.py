"""The run page's waterfall: where each bar goes, for every kind of step and attempt."""

from __future__ import annotations

from typing import Any

from outlast.domain import (
    DISCOVERY_HASH,
    RunRecord,
    RunStatus,
    StepAttempt,
    StepRecord,
    StepStatus,
)
from outlast.server.dashboard.timeline import Bar, Row, build

T0 = 1_700_000_000_000
ERR = {"name": "RuntimeError", "message": "boom", "stack": "Traceback ..."}


def run(
    status: RunStatus = RunStatus.COMPLETED,
    *,
    started: int | None = 10,
    ended: int | None = 1000,
) -> RunRecord:
    return RunRecord(
        id="R",
        function_id="app-fn",
        status=status,
        events=[{"name": "test/e", "data": {}}],
        event_id="E",
        queued_at=T0,
        started_at=None if started is None else T0 + started,
        ended_at=None if ended is None else T0 + ended,
        error=ERR if status is RunStatus.FAILED else None,
    )


def step(
    name: str,
    *,
    op: str = "StepRun",
    status: StepStatus = StepStatus.COMPLETED,
    attempts: int = 1,
    planned: int | None = None,
    started: int | None = None,
    ended: int | None = None,
    error: dict[str, Any] | None = None,
) -> StepRecord:
    done = status in (StepStatus.COMPLETED, StepStatus.FAILED)
    return StepRecord(
        run_id="R",
        hash=f"h-{name}",
        name=name,
        op=op,
        status=status,
        attempts=attempts,
        memo={"data": 1} if status is StepStatus.COMPLETED else None,
        error=error,
        scheduled_at=None if planned is None else T0 + planned,
        started_at=None if started is None else T0 + started,
        ended_at=None if ended is None else T0 + ended,
        done=done,
    )


def failure(name: str, attempt: int, started: int | None, ended: int) -> StepAttempt:
    return StepAttempt(
        "R", f"h-{name}", attempt, None if started is None else T0 + started, T0 + ended, ERR
    )


def attempts(row: Row) -> list[tuple[int | None, str, float, float]]:
    return [(b.attempt, b.outcome, b.left, b.width) for b in row.attempts]


def shape(bars: list[Bar]) -> list[tuple[str, str, int, int]]:
    """(kind, outcome, start, end) of each bar, times relative to T0."""
    return [(b.kind, b.outcome, b.start - T0, b.end - T0) for b in bars]


def test_a_step_that_ran_once_is_one_bar_placed_in_percent_of_the_run() -> None:
    tl = build(run(), [step("a", planned=100, started=200, ended=300)], [], now=T0 + 5000)
    assert (tl.start, tl.end) == (T0, T0 + 1000)
    [row] = tl.rows
    assert row.label == "a"
    # Queued from when it was planned to when its attempt started, then the attempt.
    assert shape(row.bars) == [("queued", "queued", 100, 200), ("run", "ok", 200, 300)]
    assert attempts(row) == [(0, "ok", 20.0, 10.0)]
    assert row.bars[0].attempt is None and row.bars[0].left == 10.0
    assert row.duration_ms == 100


def test_each_failed_attempt_is_its_own_bar_before_the_last_with_the_retry_waits() -> None:
    flaky = step("flaky", attempts=3, planned=100, started=700, ended=750)
    failed = [failure("flaky", 0, 100, 150), failure("flaky", 1, 400, 420)]
    [row] = build(run(), [flaky], failed, now=T0 + 5000).rows
    assert [(b.attempt, b.outcome) for b in row.attempts] == [(0, "error"), (1, "error"), (2, "ok")]
    assert shape(row.bars) == [
        ("run", "error", 100, 150),
        ("queued", "queued", 150, 400),
        ("run", "error", 400, 420),
        ("queued", "queued", 420, 700),
        ("run", "ok", 700, 750),
    ]
    assert row.attempts[0].error == ERR and row.attempts[2].error is None
    assert row.duration_ms == 650  # from the first attempt's start to the last one's end


def test_a_step_that_failed_for_good_has_its_last_attempt_among_the_failed_ones() -> None:
    # The store records the last failed attempt as well: it is not drawn twice.
    dead = step(
        "dead", status=StepStatus.FAILED, attempts=2, planned=0, started=300, ended=310, error=ERR
    )
    failed = [failure("dead", 0, 0, 10), failure("dead", 1, 300, 310)]
    [row] = build(run(RunStatus.FAILED), [dead], failed, now=T0 + 5000).rows
    assert [(b.attempt, b.outcome) for b in row.attempts] == [(0, "error"), (1, "error")]
    # Without attempt rows (a run older than them), the step's own record is its last bar.
    [old] = build(run(RunStatus.FAILED), [dead], [], now=T0 + 5000).rows
    assert shape(old.attempts) == [("run", "error", 300, 310)]
    assert old.attempts[0].error == ERR


def test_a_sleep_spans_planned_to_woken_and_is_sleeping_until_then() -> None:
    asleep = step("nap", op="Sleep", status=StepStatus.SLEEPING, planned=100)
    tl = build(run(RunStatus.RUNNING, ended=None), [asleep], [], now=T0 + 2000)
    assert tl.end == T0 + 2000  # a run that goes on is drawn up to now
    [row] = tl.rows
    assert shape(row.bars) == [("sleep", "sleeping", 100, 2000)]
    assert row.bars[0].attempt == 0 and row.duration_ms == 1900
    woken = step("nap", op="Sleep", planned=100, ended=900)
    [row] = build(run(), [woken], [], now=T0 + 5000).rows
    assert shape(row.bars) == [("sleep", "ok", 100, 900)]


def test_waits_and_invokes_are_waiting_until_resolved() -> None:
    waiting = step("wait", op="WaitForEvent", status=StepStatus.WAITING, planned=50)
    invoking = step("call", op="InvokeFunction", status=StepStatus.INVOKING, planned=60)
    tl = build(run(RunStatus.RUNNING, ended=None), [waiting, invoking], [], now=T0 + 1000)
    assert [shape(r.bars) for r in tl.rows] == [
        [("wait", "waiting", 50, 1000)],
        [("wait", "waiting", 60, 1000)],
    ]
    # Timed out (null) or resolved, a wait is done: ok.
    resolved = step("wait", op="WaitForEvent", planned=50, ended=400)
    [row] = build(run(), [resolved], [], now=T0 + 5000).rows
    assert shape(row.bars) == [("wait", "ok", 50, 400)]


def test_a_step_still_going_runs_from_its_last_news_to_now() -> None:
    planned = step("next", status=StepStatus.PLANNED, planned=100)
    retrying = step("again", status=StepStatus.RUNNING, attempts=1, planned=100)
    failed = [failure("again", 0, 120, 200)]
    tl = build(run(RunStatus.RUNNING, ended=None), [planned, retrying], failed, now=T0 + 800)
    assert shape(tl.rows[0].bars) == [("run", "running", 100, 800)]
    assert shape(tl.rows[1].bars) == [
        ("queued", "queued", 100, 120),
        ("run", "error", 120, 200),
        ("run", "running", 200, 800),
    ]
    assert [b.attempt for b in tl.rows[1].attempts] == [0, 1]


def test_a_step_after_the_runs_end_widens_the_span_and_no_bar_is_negative() -> None:
    # A step saved by a checkpoint has no start; a clock step back gives end < start.
    late = step("late", planned=None, started=None, ended=2000)
    odd = step("odd", planned=500, started=400, ended=300)
    tl = build(run(), [late, odd], [failure("late", 0, None, 1500)], now=T0 + 100)
    assert (tl.start, tl.end) == (T0, T0 + 2000)
    late_row, odd_row = tl.rows
    assert shape(late_row.attempts) == [("run", "error", 1500, 1500), ("run", "ok", 2000, 2000)]
    assert all(b.width >= 0 for row in tl.rows for b in row.bars)
    assert odd_row.attempts[0].width == 0.0
    assert [t.left for t in tl.ticks] == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert [t.offset_ms for t in tl.ticks] == [0, 500, 1000, 1500, 2000]


def test_the_runs_own_row_queued_running_and_failed_calls_between_steps() -> None:
    never_called = build(run(RunStatus.QUEUED, started=None, ended=None), [], [], now=T0 + 300)
    assert shape(never_called.run_bars) == [("queued", "queued", 0, 300)]
    calls = [StepAttempt("R", DISCOVERY_HASH, 0, T0 + 20, T0 + 30, ERR)]
    tl = build(run(RunStatus.FAILED, started=10, ended=400), [], calls, now=T0 + 900)
    assert shape(tl.run_bars) == [
        ("queued", "queued", 0, 10),
        ("run", "error", 10, 400),
        ("call", "error", 20, 30),
    ]
    assert tl.run_bars[1].error == ERR and tl.rows == []
    cancelled = build(run(RunStatus.CANCELLED, started=0, ended=50), [], [], now=T0 + 60)
    assert shape(cancelled.run_bars) == [("run", "error", 0, 50)]


def test_a_step_is_labelled_by_its_name_or_else_its_id() -> None:
    nameless = StepRecord("R", "abc123", None, "StepRun", StepStatus.COMPLETED, 1, None, None,
                          T0, T0, T0, True)  # fmt: skip
    [row] = build(run(), [nameless], [], now=T0).rows
    assert row.label == "abc123"
