"""What each kind of queue item carries, typed. The store keeps a payload as JSON; the
engine writes one with ``encode`` and reads it back with the kind's ``decode``, so nothing
else looks inside a payload's dict.

Discover calls carry nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from outlast.domain import QueueItem


def _payload(item: QueueItem) -> dict[str, Any]:
    return item.payload or {}


@dataclass(frozen=True, slots=True)
class StepPayload:
    """A planned step's call (``QueueKind.STEP``)."""

    #: Planned in race mode (``step.parallel(mode="race")``): the run goes on after this
    #: step alone, not after all its siblings.
    race: bool = False

    def encode(self) -> dict[str, Any] | None:
        return {"race": True} if self.race else None

    @classmethod
    def decode(cls, item: QueueItem) -> StepPayload:
        return cls(race=bool(_payload(item).get("race")))


@dataclass(frozen=True, slots=True)
class ResumePayload:
    """A step's timer (``QueueKind.RESUME``): a sleep's end, or a wait or invoke timing out
    (``wait``), which resolves the step with ``memo``.

    A sleep's timer has no payload unless the sleep was planned in race mode: the store
    counts the payload-less ones as steps of a parallel group still out
    (``Queue.pending_steps``); a wait's timer is counted through its wait row."""

    wait: bool = False
    memo: Any = None
    #: A sleep planned in race mode (a wait's race flag is on its wait row).
    race: bool = False

    def encode(self) -> dict[str, Any] | None:
        if self.wait:
            return {"wait": True, "memo": self.memo}
        return {"race": True} if self.race else None

    @classmethod
    def decode(cls, item: QueueItem) -> ResumePayload:
        p = _payload(item)
        return cls(wait=bool(p.get("wait")), memo=p.get("memo"), race=bool(p.get("race")))


@dataclass(frozen=True, slots=True)
class CronPayload:
    """One tick of a function's schedule (``QueueKind.CRON``)."""

    function_id: str
    cron: str
    tick: int

    def encode(self) -> dict[str, Any]:
        return {"function_id": self.function_id, "cron": self.cron, "tick": self.tick}

    @classmethod
    def decode(cls, item: QueueItem) -> CronPayload:
        p = _payload(item)
        return cls(str(p.get("function_id")), str(p.get("cron")), int(p.get("tick", 0)))


@dataclass(frozen=True, slots=True)
class TimeoutPayload:
    """A function timeout's timer (``QueueKind.TIMEOUT``)."""

    which: Literal["start", "finish"]
    limit_ms: int

    def encode(self) -> dict[str, Any]:
        return {"which": self.which, "limit_ms": self.limit_ms}

    @classmethod
    def decode(cls, item: QueueItem) -> TimeoutPayload:
        p = _payload(item)
        which: Literal["start", "finish"] = "start" if p.get("which") == "start" else "finish"
        return cls(which, int(p.get("limit_ms", 0)))


@dataclass(frozen=True, slots=True)
class BatchPayload:
    """A batch's timeout (``QueueKind.BATCH``)."""

    batch_id: str

    def encode(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id}

    @classmethod
    def decode(cls, item: QueueItem) -> BatchPayload:
        return cls(str(_payload(item).get("batch_id")))


@dataclass(frozen=True, slots=True)
class DebouncePayload:
    """A debounce's end (``QueueKind.DEBOUNCE``)."""

    key: str

    def encode(self) -> dict[str, Any]:
        return {"key": self.key}

    @classmethod
    def decode(cls, item: QueueItem) -> DebouncePayload:
        return cls(str(_payload(item).get("key")))
