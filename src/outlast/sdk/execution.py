"""The state of one execution request: memos, the steps found, and what to answer.

A handler is replayed from the top on every request. Each step looks up its
memo; the first new step decides the answer and stops the handler with an
``Interrupt`` (a BaseException, so ``except Exception`` in user code cannot
swallow it). The decision logic here is synchronous so that async steps and
their synchronous facade share it; only the "let sibling tasks report" pause
(for ``asyncio.gather``) awaits.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from outlast.protocol.ids import StepIdCounter
from outlast.protocol.op import ABSENT, Timing
from outlast.protocol.op import Op as WireOp
from outlast.protocol.ops import Opcode
from outlast.sdk.errors import NestedStepError, OutlastError, StepError
from outlast.sdk.serialize import error_dict

if TYPE_CHECKING:
    from outlast.sdk.checkpoint import Checkpointer

logger = logging.getLogger(__name__)

#: How many times a new step yields to the event loop before deciding, so that
#: steps started together (``asyncio.gather``) all get reported in one answer.
SETTLE_YIELDS = 10

#: Set by ``step.parallel``: the parallel mode of the group being discovered.
parallel_mode: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "outlast_parallel_mode", default=None
)
#: Set while a step's function runs, to refuse nested steps.
current_step: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "outlast_current_step", default=None
)


class Interrupt(BaseException):
    """Stops the handler once the answer is known. Not an error; never catch it."""

    def __init__(self, skipped: str | None = None) -> None:
        super().__init__(skipped or "step interrupt")
        #: The user id of a step passed over because another one was targeted.
        self.skipped = skipped


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass
class Op:
    """A step the handler reached in this request. Its op code and result change as it
    runs (planned, executed, failed); :meth:`to_wire` gives the shared wire form
    (:class:`outlast.protocol.op.Op`)."""

    id: str
    op: str
    name: str
    user_id: str
    index: int | None
    opts: dict[str, Any] | None = None
    data: Any = MISSING
    error: dict[str, Any] | None = None

    def wire_op(self) -> WireOp:
        """The op as it goes on the wire."""
        return WireOp(
            op=self.op,
            id=self.id,
            name=self.name,
            display_name=self.user_id,
            opts=self.opts or {},
            data=ABSENT if self.data is MISSING else self.data,
            error=self.error,
            user_id=self.user_id,
            index=self.index,
        )

    def to_wire(self) -> dict[str, Any]:
        return self.wire_op().to_wire()

    def plan(self, mode: str | None = None) -> None:
        """Turn a not-executed ``StepRun`` into ``StepPlanned`` (race mode marked in opts)."""
        if self.op == Opcode.STEP_RUN:
            self.op = Opcode.STEP_PLANNED
        if mode == "race":
            self.opts = {**(self.opts or {}), "parallelMode": "race"}


@dataclass(frozen=True)
class Memo:
    """A stored step result: ``data`` or ``error``."""

    data: Any = None
    error: dict[str, Any] | None = None

    def value(self) -> Any:
        """The data, or raise StepError when the step failed."""
        if self.error is not None:
            raise StepError(
                name=str(self.error.get("name") or "Error"),
                message=str(self.error.get("message") or ""),
                stack=self.error.get("stack"),
            )
        return self.data


def decode_memo(raw: Any) -> Memo:
    """Read a memo: ``{"data": X}``, ``{"error": E}``, or a raw value (an event, null)."""
    if isinstance(raw, dict) and set(raw) <= {"data", "error"}:
        err = raw.get("error")
        if isinstance(err, dict):
            return Memo(error=err)
        if err is not None:
            return Memo(error={"name": "Error", "message": str(err), "stack": ""})
        return Memo(data=raw.get("data"))
    return Memo(data=raw)


@dataclass
class Execution:
    """Per-request execution state shared by a handler's steps and the runner."""

    memos: dict[str, Any]
    target: str | None = None
    disable_immediate: bool = False
    attempt: int = 0
    max_attempts: int | None = None
    #: True for async handlers: new steps yield so gathered siblings can report.
    can_yield: bool = True
    reported: list[Op] = field(default_factory=list)
    outcome: Op | None = None
    executing: Op | None = None
    no_retry: bool = False
    skipped: str | None = None
    closed: bool = False
    #: Saves a finished step so the handler can go on in the same call (None: answer it).
    checkpointer: Checkpointer | None = None
    _counter: StepIdCounter = field(default_factory=StepIdCounter)
    _unseen_memos: int = 0
    _new_code: bool = False
    _settled: asyncio.Event | None = None

    def __post_init__(self) -> None:
        self._unseen_memos = len(self.memos)
        if self.can_yield:
            self._settled = asyncio.Event()

    @property
    def replaying(self) -> bool:
        """True while the handler is still going over steps that already ran."""
        return self._unseen_memos > 0 and not self._new_code

    def begin(
        self,
        step_id: str,
        opcode: str,
        *,
        name: str | None = None,
        opts: dict[str, Any] | None = None,
    ) -> tuple[Op, Memo | None]:
        """Hash a step id and look up its memo (O(1)). Returns the op and the memo, if any."""
        if not isinstance(step_id, str) or not step_id:
            raise ValueError("a step id must be a non-empty string")
        if current_step.get() is not None:
            raise NestedStepError(
                f'step "{step_id}" was called inside step "{current_step.get()}": '
                "nested steps are not supported"
            )
        unique, hashed = self._counter.next(step_id)
        index = None if unique == step_id else int(unique[len(step_id) + 1 :])
        op = Op(id=hashed, op=opcode, name=name or step_id, user_id=step_id, index=index, opts=opts)
        if hashed in self.memos:
            self._unseen_memos -= 1
            return op, decode_memo(self.memos[hashed])
        return op, None

    async def decide(self, op: Op) -> None:
        """Decide what a new step does. Returns only when ``op`` (a StepRun) must execute now."""
        self._new_code = True
        if self.closed:
            raise Interrupt()
        if self.target is not None:
            if op.id != self.target:
                self.skipped = self.skipped or op.user_id
                raise Interrupt(skipped=op.user_id)
            self.closed = True
            if op.op == Opcode.STEP_RUN:
                self.executing = op
                return
            self._finish(op)
        mode = parallel_mode.get()
        if mode is not None:
            # Inside step.parallel: plan it and let the group discover its siblings.
            op.plan(mode)
            self.reported.append(op)
            raise Interrupt()
        self.reported.append(op)
        if self.can_yield:
            for _ in range(SETTLE_YIELDS):
                await asyncio.sleep(0)
            if self.closed:
                raise Interrupt()
        self.closed = True
        if len(self.reported) == 1 and op.op == Opcode.STEP_RUN and not self.disable_immediate:
            self.executing = op
            return
        raise Interrupt()

    async def report(self, op: Op) -> NoReturn:
        """Report a step that is not run by the SDK (sleep, wait, invoke)."""
        await self.decide(op)
        raise RuntimeError(f"unexpected execution of {op.op} step")  # pragma: no cover

    def succeed(self, op: Op, data: Any) -> NoReturn:
        """The executing step returned ``data``: answer ``StepRun``."""
        op.data = data
        self._finish(op)

    async def checkpoint(self, op: Op, data: Any, began: float) -> bool:
        """Save the executing step (it began at ``began``, unix seconds) through the
        checkpointer; True when the handler may go on to its next step in this call instead
        of answering this one.

        Only a lone step run on the server's general request checkpoints: a targeted call or
        steps reported together (parallel) answer as usual.
        """
        if (
            self.checkpointer is None
            or self.target is not None
            or self.reported != [op]
            or self.executing is not op
        ):
            return False
        op.data = data
        # When the step ran (unix ms), for the run's timeline: the server keeps only the
        # duration, so the two clocks need not agree.
        timing = Timing(start=int(began * 1000), end=int(time.time() * 1000))
        wire = dataclasses.replace(op.wire_op(), timing=timing).to_wire()
        if self.can_yield:
            saved = await self.checkpointer.save(wire)
        else:
            # A synchronous handler drives its steps without an event loop of its own.
            saved = self.checkpointer.save_blocking(wire)
        if not saved:
            return False
        self.reported.clear()
        self.executing = None
        self.closed = False
        if self.can_yield:
            self._settled = asyncio.Event()
        return True

    def fail(self, op: Op, err: BaseException) -> NoReturn:
        """The executing step raised: answer ``StepError`` (``StepFailed`` on the last attempt)."""
        last = self.max_attempts is not None and self.attempt + 1 >= self.max_attempts
        op.op = Opcode.STEP_FAILED if last else Opcode.STEP_ERROR
        op.error = error_dict(err)
        if isinstance(err, OutlastError) and not err.retriable:
            self.no_retry = True
        self._finish(op)

    def abandon(self, op: Op) -> None:
        """The executing step raised an error meant for the whole function."""
        self.executing = None
        self.closed = False
        if op in self.reported:
            self.reported.remove(op)
        if self._settled is not None:
            self._settled.set()

    def _finish(self, op: Op) -> NoReturn:
        self.outcome = op
        self.executing = None
        if self._settled is not None:
            self._settled.set()
        raise Interrupt()

    async def wait_executing(self) -> None:
        """Wait for a step still executing in a sibling task (``asyncio.gather``) to finish."""
        if self.executing is not None and self._settled is not None:
            await self._settled.wait()

    def planned_ops(self) -> list[dict[str, Any]]:
        """The reported-but-not-executed steps as wire ops."""
        for op in self.reported:
            op.plan()
        return [op.to_wire() for op in self.reported]
