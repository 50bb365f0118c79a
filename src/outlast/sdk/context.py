"""What a handler receives: the event(s), run identity, steps and a replay-aware logger."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from outlast.sdk.event import Event
from outlast.sdk.execution import Execution
from outlast.sdk.steps import Steps, SyncSteps

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    _LoggerAdapter = logging.LoggerAdapter[logging.Logger]
else:
    _LoggerAdapter = logging.LoggerAdapter


class ReplayLogger(_LoggerAdapter):
    """A logger that stays silent while the handler replays steps that already ran.

    Handlers run again from the top on every request; without this, lines logged
    before the current step would be repeated once per step.
    """

    def __init__(self, base: logging.Logger, execution: Execution) -> None:
        super().__init__(base, {})
        self._execution = execution

    def isEnabledFor(self, level: int) -> bool:
        if self._execution.replaying:
            return False
        return self.logger.isEnabledFor(level)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs


S = TypeVar("S", Steps, SyncSteps)


@dataclass(frozen=True)
class _BaseContext(Generic[S]):
    event: Event
    events: list[Event]
    run_id: str
    attempt: int
    max_attempts: int | None
    function_id: str
    step: S
    logger: ReplayLogger


@dataclass(frozen=True)
class Context(_BaseContext[Steps]):
    """The context of an ``async def`` handler.

    Attributes: ``event`` (the trigger; the failure event for on_failure handlers),
    ``events`` (the batch), ``run_id``, ``attempt`` (zero-based), ``max_attempts``
    (when the server says), ``function_id``, ``step`` (the async step API),
    ``logger`` (silent while replaying).
    """


@dataclass(frozen=True)
class SyncContext(_BaseContext[SyncSteps]):
    """The context of a plain ``def`` handler: like Context, with a synchronous ``step`` API."""
