"""How store records look through ``/v0/gql``: the cases a short acceptance run does not reach
(cancelled and queued runs, waits, steps being retried, removed functions)."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.domain import RunRecord, RunStatus, StepRecord, StepStatus
from outlast.protocol import jsonutil
from outlast.server import gql_views as v

ERROR = {"name": "ValueError", "message": "boom", "stack": "trace"}


def run(status: RunStatus = RunStatus.COMPLETED, **kw: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "id": "r1",
        "function_id": "app-fn",
        "status": status,
        "events": [{"name": "e", "data": {}, "id": "ev1", "ts": 5}],
        "event_id": "ev1",
        "queued_at": 1,
    }
    return RunRecord(**(fields | kw))


def step(memo: Any = None, **kw: Any) -> StepRecord:
    fields: dict[str, Any] = {
        "run_id": "r1",
        "hash": "h1",
        "name": "s",
        "op": "StepRun",
        "status": StepStatus.COMPLETED,
        "attempts": 1,
        "memo": memo,
        "error": None,
        "scheduled_at": 30,
        "started_at": 10,
        "ended_at": 30,
        "done": True,
    }
    return StepRecord(**(fields | kw))


@pytest.mark.parametrize(
    ("record", "output"),
    [
        (run(output={"a": 1}), '{"a":1}'),
        (run(output=None), "null"),  # finished without a value: still an output
        (run(RunStatus.FAILED, error=ERROR), jsonutil.dumps_str(ERROR)),
        (run(RunStatus.CANCELLED, error={"message": "timed out"}), '{"message":"timed out"}'),
        (run(RunStatus.CANCELLED), None),
        (run(RunStatus.RUNNING), None),
        (run(RunStatus.QUEUED), None),
    ],
)
def test_a_runs_output_is_json_once_it_ends(record: RunRecord, output: str | None) -> None:
    assert v.run_output(record) == output
    assert v.run_v2(record)["status"] == record.status.name


@pytest.mark.parametrize(
    ("record", "shown"),
    [
        (step({"data": [1]}), {"data": "[1]", "error": None}),
        (step({"error": ERROR}), {"data": None, "error": ERROR}),
        # a wait's received event is its memo as it is
        (step({"name": "ev", "data": {}}), {"data": '{"name":"ev","data":{}}', "error": None}),
        (step(None, op=""), {"data": "null", "error": None}),  # a wait that timed out
        (
            step(None, done=False, status=StepStatus.RUNNING, error=ERROR),
            {"data": None, "error": ERROR},
        ),
    ],
)
def test_a_steps_output_unwraps_its_memo(record: StepRecord, shown: dict[str, Any]) -> None:
    assert v.has_output(record)
    assert v.step_output(record) == shown


def test_spans_of_sleeps_and_unfinished_steps() -> None:
    sleep = step(None, op="Sleep", status=StepStatus.SLEEPING, done=False, ended_at=None)
    span = v.step_span(run(RunStatus.RUNNING), sleep, "app")
    assert (span["status"], span["stepOp"], span["outputID"]) == ("WAITING", "SLEEP", None)
    assert span["duration"] is None
    # A step the run ended around (cancelled, timed out) is shown cancelled.
    assert v.step_span(run(RunStatus.CANCELLED), sleep, "app")["status"] == "CANCELLED"
    done = v.step_span(run(), step({"data": 1}), "app")
    assert (done["outputID"], done["duration"]) == ("r1:h1", 20)
    assert done["queuedAt"] <= done["startedAt"]  # recorded at its end, shown as started


def test_a_removed_function_is_shown_by_its_id() -> None:
    root = v.root_span(run(), None, [step({"data": 1})])
    assert (root["name"], root["appID"], root["outputID"]) == ("app-fn", "", "r1")
    assert [s["name"] for s in root["childrenSpans"]] == ["s"]
    assert v.function_view("app-fn", None)["name"] == "app-fn"


def test_event_status_sums_up_its_runs() -> None:
    assert v.event_status([]) == "NO_FUNCTIONS"
    assert v.event_status([run(), run(RunStatus.RUNNING)]) == "RUNNING"
    assert v.event_status([run(), run(RunStatus.FAILED)]) == "PARTIALLY_FAILED"
    assert v.event_status([run(RunStatus.FAILED)]) == "FAILED"
    assert v.event_status([run(), run(RunStatus.CANCELLED)]) == "COMPLETED"
