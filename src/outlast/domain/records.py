"""Records as the store holds them. Times are unix milliseconds; JSON stays decoded."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)

    @property
    def api_name(self) -> str:
        """The status string of Inngest's REST API ("Running", "Completed", ...)."""
        return "Running" if self is RunStatus.QUEUED else self.value.capitalize()


class StepStatus(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    SLEEPING = "sleeping"
    WAITING = "waiting"
    INVOKING = "invoking"
    COMPLETED = "completed"
    FAILED = "failed"


class QueueKind(StrEnum):
    #: Call the app with stepId=step: start the run or find the next step.
    DISCOVER = "discover"
    #: Call the app with stepId=<hash>: run one planned step.
    STEP = "step"
    #: A timer: write the memo in the payload for a step, then discover (sleep wake, wait timeout).
    RESUME = "resume"
    #: A cron tick of a function: start a run, schedule the next tick.
    CRON = "cron"
    #: A function timeout (payload ``which``: start / finish): cancel the run if still due.
    TIMEOUT = "timeout"
    #: A batch's timeout (payload ``batch_id``): start its run with the events it has.
    BATCH = "batch"
    #: A debounce's end (payload ``key``): start its run with the last event.
    DEBOUNCE = "debounce"
    #: An HTTP request the server sends for a step (``step.ai.infer``), off the app: the
    #: answer is the step's output (payload: the request, ``engine.gateway``).
    GATEWAY = "gateway"


#: Queue items that are calls to an app (the others are timers): the ones concurrency
#: limits count.
CALL_KINDS = frozenset({QueueKind.DISCOVER, QueueKind.STEP})


class SkipReason(StrEnum):
    """Why an event started no run of a function its name triggers."""

    #: The trigger's ``expression`` (``if``) is false for the event.
    FILTERED = "filtered"
    #: Over the function's ``rateLimit``.
    RATE_LIMITED = "rate_limited"
    #: The event's ``id`` was seen already (event-id dedupe, or the same cron tick), or the
    #: function's ``idempotency`` key is held by an earlier run.
    DEDUPLICATED = "deduplicated"
    #: The function is paused.
    PAUSED = "paused"
    #: ``singleton`` in skip mode: a run with the same key is unfinished.
    SINGLETON = "singleton"
    #: ``debounce``: a later event for the same key took its place.
    DEBOUNCED = "debounced"
    #: The function was removed (or its config became invalid) while the event waited in
    #: a debounce or batch.
    FUNCTION_REMOVED = "function_removed"


class WaitKind(StrEnum):
    WAIT = "wait"  # step.wait_for_event
    CANCEL = "cancel"  # a function's cancel rule
    INVOKE = "invoke"  # step.invoke: resolved by the child run finishing


@dataclass(frozen=True, slots=True)
class App:
    id: str
    url: str
    sdk: str | None
    framework: str | None
    checksum: str
    synced_at: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionRecord:
    id: str
    app_id: str
    name: str
    config: dict[str, Any]
    paused: bool = False


@dataclass(frozen=True, slots=True)
class EventRecord:
    internal_id: str
    name: str
    #: The whole event as sent to functions: name, data, id, ts, user, v.
    payload: dict[str, Any]
    received_at: int

    @property
    def id(self) -> str:
        return str(self.payload.get("id") or self.internal_id)

    @property
    def ts(self) -> int:
        return int(self.payload.get("ts") or self.received_at)


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    function_id: str
    status: RunStatus
    events: list[dict[str, Any]]
    event_id: str | None
    queued_at: int
    started_at: int | None = None
    ended_at: int | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    #: Step hashes in completion order (the SDK's ``ctx.stack``).
    stack: list[str] = field(default_factory=list)
    #: For a run started by step.invoke: {"run_id", "step", "correlation_id"} of the caller.
    parent: dict[str, Any] | None = None
    #: For a run of batched events (batchEvents): the batch, whose events are ``events``.
    batch_id: str | None = None

    @property
    def scheduled_at(self) -> int | None:
        """When the run was scheduled to start, for one whose event's ``ts`` was later than
        the run was queued (a delayed start); None otherwise."""
        ts = self.events[0].get("ts") if self.events and self.batch_id is None else None
        if isinstance(ts, int) and not isinstance(ts, bool) and ts > self.queued_at:
            return ts
        return None


@dataclass(frozen=True, slots=True)
class StepRecord:
    run_id: str
    hash: str
    name: str | None
    op: str
    status: StepStatus
    attempts: int
    #: What the SDK gets back under ``steps[hash]``; None until the step is done.
    memo: Any
    error: dict[str, Any] | None
    scheduled_at: int | None
    started_at: int | None
    ended_at: int | None
    done: bool


#: The ``hash`` of a :class:`StepAttempt` that is a failed call of the function itself (a
#: discovery call: the code between steps raised, or the app answered with an error).
DISCOVERY_HASH = ""


@dataclass(frozen=True, slots=True)
class StepAttempt:
    """One failed attempt of a step (or, with hash :data:`DISCOVERY_HASH`, of a discovery
    call). A step's last attempt is its :class:`StepRecord`, whatever its outcome; a failed
    last attempt has a row here too, so a step's failures are all here. A successful
    attempt has none: a step that succeeds at once costs nothing more to save.

    ``attempt`` is 0-based, as the SDK's ``ctx.attempt``: the attempt of the call that ran
    the step. Discovery calls count from 0 again after each step the run finishes, so
    several discovery attempts of a run may share a number (``ended_at`` orders them)."""

    run_id: str
    hash: str
    attempt: int
    #: When the call began (None: not known, e.g. a step saved by a checkpoint).
    started_at: int | None
    ended_at: int
    error: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class EventSkip:
    """Why an event (``event_id``, its internal id) started no run of a function."""

    event_id: str
    function_id: str
    reason: SkipReason
    at: int


@dataclass(frozen=True, slots=True)
class FunctionStats:
    """Runs of a function queued in a time window, by outcome. ``running`` counts queued
    runs too (the REST API shows both as Running); ``total`` is the sum of the four."""

    total: int
    completed: int
    failed: int
    cancelled: int
    running: int


@dataclass(frozen=True, slots=True)
class QueueItem:
    id: int
    run_id: str | None
    kind: QueueKind
    step: str | None
    payload: dict[str, Any] | None
    attempt: int
    due_at: int
    #: The first concurrency key the item counts under (None: not limited).
    ckey: str | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    id: int
    run_id: str
    kind: WaitKind
    step: str | None
    event_name: str | None
    expression: str | None
    #: The waiting run's trigger event, bound as ``event`` when the expression is evaluated.
    event: dict[str, Any] | None
    correlation_id: str | None
    expires_at: int | None
    #: Planned in race mode: the run goes on when it resolves, whatever else is out.
    race: bool = False
