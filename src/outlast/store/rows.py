"""What the store reads and writes, outside the SQL: rows to insert, and row -> record
mapping shared by every query module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outlast.domain import (
    EventRecord,
    QueueItem,
    QueueKind,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    Wait,
    WaitKind,
)
from outlast.protocol.jsonutil import dumps_str, loads
from outlast.store.conn import Conn, Row
from outlast.store.dialect import SQLITE, Dialect


class Queries:
    """Base of the query groups that make up :class:`~outlast.store.session.Session`."""

    def __init__(self, conn: Conn, dialect: Dialect = SQLITE) -> None:
        self.c = conn
        #: How the connection's database differs from the other (row locks, JSON).
        self.dialect = dialect
        #: The earliest due time of the items this session queued for any worker to lease
        #: (None: none): the executor wakes up for them only if they are due soon.
        self.first_queued_due: int | None = None

    def queued(self, due_at: int) -> None:
        if self.first_queued_due is None or due_at < self.first_queued_due:
            self.first_queued_due = due_at


def j(value: Any) -> str | None:
    return None if value is None else dumps_str(value)


def uj(text: str | None) -> Any:
    return None if text is None else loads(text)


@dataclass(frozen=True, slots=True)
class NewItem:
    """A queue item to insert."""

    kind: QueueKind
    run_id: str | None
    due_at: int
    step: str | None = None
    payload: dict[str, Any] | None = None
    attempt: int = 0
    dedupe_key: str | None = None
    #: Insert the item already leased by this worker (it goes on to run it itself).
    lease_owner: str | None = None


@dataclass(frozen=True, slots=True)
class StepDone:
    """A discovery call answered with one finished step, and the run goes on at once: the
    most common answer, saved by :meth:`~outlast.store.interface.Store.steps_done` in one go."""

    run_id: str
    item_id: int
    step: str
    name: str | None
    op: str
    #: The step's memo, JSON-encoded (``{"data": ...}``).
    memo: str
    started_at: int
    attempts: int
    now: int
    #: The reused item's lease: until when, and by whom.
    due_at: int
    owner: str


@dataclass(frozen=True, slots=True)
class CheckpointStep:
    """A step an SDK saved during a call (``POST /v1/checkpoint``), to be saved if the call
    is still the run's current one: saved in batches by ``Store.save_checkpoints``."""

    run_id: str
    #: The call: its queue item and attempt (the ``qi_id`` the SDK was given).
    item_id: int
    attempt: int
    step: str
    name: str | None
    op: str
    #: The step's memo, JSON-encoded (``{"data": ...}``).
    memo: str
    #: When it began, if the SDK said (from the duration it measured).
    started_at: int | None
    now: int


@dataclass(frozen=True, slots=True)
class NewRun:
    run: RunRecord
    #: (key, expires_at) pairs: at most one run per (function, key) while unexpired (event
    #: id dedupe, idempotency, cron ticks). The run is skipped if any key is taken.
    keys: tuple[tuple[str, int], ...] = ()
    #: Up to two (concurrency key, limit) pairs its calls are counted under.
    concurrency: tuple[tuple[str, int], ...] = ()


RUN_COLS = (
    "id, function_id, status, event_id, events, queued_at, started_at, ended_at, "
    "output, error, stack, parent, batch_id"
)
STEP_COLS = (
    "run_id, hash, name, op, status, attempts, memo, error, scheduled_at, started_at, "
    "ended_at, done"
)
WAIT_COLS = (
    "id, run_id, kind, step, event_name, expression, event, correlation_id, expires_at, race"
)
ITEM_COLS = "id, run_id, kind, step, payload, attempt, due_at, ckey"


def run_row(r: Row) -> RunRecord:
    return RunRecord(
        id=r[0],
        function_id=r[1],
        status=RunStatus(r[2]),
        event_id=r[3],
        events=loads(r[4]),
        queued_at=r[5],
        started_at=r[6],
        ended_at=r[7],
        output=uj(r[8]),
        error=uj(r[9]),
        stack=loads(r[10]),
        parent=uj(r[11]),
        batch_id=r[12],
    )


def step_row(r: Row) -> StepRecord:
    return StepRecord(
        run_id=r[0],
        hash=r[1],
        name=r[2],
        op=r[3],
        status=StepStatus(r[4]),
        attempts=r[5],
        memo=uj(r[6]),
        error=uj(r[7]),
        scheduled_at=r[8],
        started_at=r[9],
        ended_at=r[10],
        done=bool(r[11]),
    )


def wait_row(r: Row) -> Wait:
    return Wait(
        id=r[0],
        run_id=r[1],
        kind=WaitKind(r[2]),
        step=r[3],
        event_name=r[4],
        expression=r[5],
        event=uj(r[6]),
        correlation_id=r[7],
        expires_at=r[8],
        race=bool(r[9]),
    )


def item_row(r: Row) -> QueueItem:
    return QueueItem(
        id=r[0],
        run_id=r[1],
        kind=QueueKind(r[2]),
        step=r[3],
        payload=uj(r[4]),
        attempt=r[5],
        due_at=r[6],
        ckey=r[7],
    )


def event_row(r: Row) -> EventRecord:
    return EventRecord(internal_id=r[0], name=r[1], payload=loads(r[2]), received_at=r[3])
