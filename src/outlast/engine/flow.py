"""Flow control: the parsed options of a function and the pure rules the machine applies.

Every limit is enforced through the store (rows and row locks), never in one process's
memory, so several server processes on one database share them:

- ``concurrency``: each call to the app (a queue item of kind discover / step) carries the
  run's concurrency keys and limits; the store leases an item only while fewer calls with
  that key are leased (``store.leasing``). Sleeping, waiting and invoking runs have no
  call item, so they hold no slot.
- ``throttle``: GCRA on run starts. A run over the limit gets its first call scheduled at
  the time GCRA admits it (FIFO per key); nothing is dropped.
- ``rateLimit``: GCRA on events; an event over the limit starts no run (it stays stored).
- ``debounce`` (``engine.debounce``), ``singleton``, ``idempotency``, ``priority``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outlast.engine.expressions import compile_expression, evaluate_key

#: Priority is clamped to this many seconds either way.
MAX_PRIORITY_S = 600


@dataclass(frozen=True, slots=True)
class ConcurrencySpec:
    """One concurrency constraint: at most ``limit`` calls at once per key value."""

    limit: int
    #: CEL over ``event``; None: one key for the whole scope.
    key: str | None
    #: "fn" (this function's runs), "env" or "account" (shared by every function using the
    #: same key value; Outlast has one environment, so the two are the same).
    scope: str


@dataclass(frozen=True, slots=True)
class GcraSpec:
    """``throttle`` or ``rateLimit``: ``limit`` per ``period_ms`` per key, plus ``burst``."""

    limit: int
    period_ms: int
    burst: int
    key: str | None

    @property
    def interval_ms(self) -> float:
        """The emission interval: one admission per ``period / limit``."""
        return self.period_ms / self.limit

    @property
    def tolerance_ms(self) -> float:
        """How far ahead of now the theoretical arrival time may run: ``limit + burst``
        admissions fit at once."""
        return (self.limit + self.burst - 1) * self.interval_ms


@dataclass(frozen=True, slots=True)
class DebounceSpec:
    period_ms: int
    #: The longest a run waits after the first event of a debounce (None: no cap).
    timeout_ms: int | None
    key: str | None


@dataclass(frozen=True, slots=True)
class SingletonSpec:
    key: str | None
    #: "skip": a new run is not started while one runs; "cancel": the running one is cancelled.
    mode: str


@dataclass(frozen=True, slots=True)
class FlowSpec:
    concurrency: tuple[ConcurrencySpec, ...] = ()
    throttle: GcraSpec | None = None
    rate_limit: GcraSpec | None = None
    debounce: DebounceSpec | None = None
    #: CEL over ``event`` giving seconds (-600..600) the run's start moves ahead.
    priority: str | None = None
    singleton: SingletonSpec | None = None
    #: CEL over ``event``: one run per key value per 24 h.
    idempotency: str | None = None


def _key_value(src: str | None, event: dict[str, Any]) -> str:
    return evaluate_key(src, event) if src else ""


def concurrency_keys(
    function_id: str, specs: tuple[ConcurrencySpec, ...], event: dict[str, Any]
) -> tuple[tuple[str, int], ...]:
    """The (key, limit) pairs of a run's calls, evaluated once from its trigger event.
    A limit of 0 means unlimited and gives no key."""
    keys: list[tuple[str, int]] = []
    for c in specs:
        if c.limit <= 0:
            continue
        value = _key_value(c.key, event)
        if c.scope == "fn":
            keys.append((f"fn:{function_id}:{value}", c.limit))
        else:
            keys.append((f"{c.scope}:{c.key or ''}:{value}", c.limit))
    return tuple(keys)


def gcra_key(kind: str, function_id: str, spec: GcraSpec, event: dict[str, Any]) -> str:
    """The store key of a function's throttle / rate-limit state for this event."""
    return f"{kind}:{function_id}:{_key_value(spec.key, event)}"


def throttle_admit(tat: int | None, now: int, spec: GcraSpec) -> tuple[int, int]:
    """GCRA that delays instead of refusing: (when this run may start, the new TAT).

    ``limit + burst`` runs start at once; after that one per ``period / limit``, in order.
    """
    current = max(tat if tat is not None else now, now)
    start = max(now, round(current - spec.tolerance_ms))
    return start, round(current + spec.interval_ms)


def rate_limit_admit(tat: int | None, now: int, spec: GcraSpec) -> int | None:
    """GCRA that refuses: the new TAT when the event may start a run, None when it may not."""
    current = max(tat if tat is not None else now, now)
    if current - now > spec.tolerance_ms:
        return None
    return round(current + spec.interval_ms)


def priority_ms(src: str | None, event: dict[str, Any]) -> int:
    """How many milliseconds ahead (positive) or behind (negative) the run's first call is
    queued: the expression's value in seconds, clamped to ±600; errors count as 0."""
    if not src:
        return 0
    try:
        value = compile_expression(src).evaluate({"event": event})
    except ValueError:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(max(-MAX_PRIORITY_S, min(MAX_PRIORITY_S, value)) * 1000)


def singleton_key(function_id: str, spec: SingletonSpec, event: dict[str, Any]) -> str:
    return f"{function_id}:{_key_value(spec.key, event)}"


def idempotency_key(src: str, event: dict[str, Any]) -> str:
    return f"idem:{_key_value(src, event)}"
