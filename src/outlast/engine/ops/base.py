"""What an op handler is given and what it answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from outlast.domain import QueueItem, RunRecord
from outlast.engine.caller import Ops
from outlast.engine.config import FunctionSpec
from outlast.engine.lifecycle import Lifecycle
from outlast.protocol.op import Op
from outlast.store import Session


@dataclass(frozen=True, slots=True)
class Call:
    """One app answer being applied: the call's queue item, the run (locked in ``s``) and
    its function, the answer, when the call started and now."""

    life: Lifecycle
    s: Session
    item: QueueItem
    run: RunRecord
    spec: FunctionSpec
    result: Ops
    started_at: int
    now: int


class Outcome(Enum):
    """What an op did to the run, which decides what becomes of the call's queue item."""

    #: Work was scheduled (a planned step's call, a timer, a wait): the run goes on later.
    WAITS = "waits"
    #: The op changed nothing (a step that had finished already). An answer of only such
    #: ops made no progress: it counts as a failed attempt, so a confused app cannot keep
    #: the server calling it in a loop.
    NOTHING = "nothing"
    #: A step finished (done or failed for good): the run may go on at once.
    PROGRESSED = "progressed"
    #: A step will be retried later; its item is set.
    RETRYING = "retrying"
    #: The run ended, or the call's item was dealt with: stop applying ops.
    ENDED = "ended"


OpHandler = Callable[[Call, Op], Awaitable[Outcome]]
