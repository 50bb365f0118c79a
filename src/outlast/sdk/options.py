"""Function triggers and flow-control options, validated when created.

Each option knows its wire form (``to_wire``): camelCase keys, durations as
strings such as ``"1h30m"``, unset fields left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from outlast.protocol import durations
from outlast.protocol.ops import MAX_EVENT_NAME_LENGTH
from outlast.sdk.errors import ConfigError

logger = logging.getLogger(__name__)

#: A duration: a ``timedelta``, integer milliseconds, or a string like ``"1h30m"``.
Duration = timedelta | int | str


def duration_ms(value: Duration, what: str) -> int:
    """Milliseconds of a positive duration, or ConfigError naming ``what``."""
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a duration, not a bool")
    if isinstance(value, timedelta):
        ms = int(value.total_seconds() * 1000)
    elif isinstance(value, int | str):
        try:
            ms = durations.parse_ms(value)
        except durations.DurationError as exc:
            raise ConfigError(f"{what}: {exc}") from exc
    else:
        raise ConfigError(f"{what} must be a timedelta, milliseconds or a string like '30s'")
    if ms <= 0:
        raise ConfigError(f"{what} must be a positive duration, got {value!r}")
    return ms


def duration_str(value: Duration, what: str) -> str:
    """The wire string of a positive duration."""
    return durations.format_ms(duration_ms(value, what))


def _non_empty(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty string")


def _positive_int(value: object, what: str, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{what} must be an integer >= {minimum}, got {value!r}")


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def match_expression(match: str) -> str:
    """``match="data.x"`` as a CEL expression: ``event.data.x == async.data.x``."""
    _non_empty(match, "match")
    path = match.strip()
    for prefix in ("event.", "async."):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    return f"event.{path} == async.{path}"


def combine_if(if_exp: str | None, match: str | None) -> str | None:
    """One ``if`` expression from an optional expression and an optional ``match`` path."""
    parts = [p for p in (match_expression(match) if match else None, if_exp) if p]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " && ".join(f"({p})" for p in parts)


@dataclass(frozen=True)
class TriggerEvent:
    """Run the function when an event named ``event`` arrives (optionally filtered by CEL)."""

    event: str
    expression: str | None = None

    def __post_init__(self) -> None:
        _non_empty(self.event, "trigger event name")
        if len(self.event) > MAX_EVENT_NAME_LENGTH:
            raise ConfigError(f"trigger event name is longer than {MAX_EVENT_NAME_LENGTH}")

    def to_wire(self) -> dict[str, Any]:
        return _drop_none({"event": self.event, "expression": self.expression})


@dataclass(frozen=True)
class TriggerCron:
    """Run the function on a cron schedule (``"0 * * * *"``, optional ``TZ=...`` prefix)."""

    cron: str
    jitter: Duration | None = None

    def __post_init__(self) -> None:
        _non_empty(self.cron, "cron")
        if self.jitter is not None:
            duration_ms(self.jitter, "cron jitter")

    def to_wire(self) -> dict[str, Any]:
        jitter = None if self.jitter is None else duration_str(self.jitter, "cron jitter")
        return _drop_none({"cron": self.cron, "jitter": jitter})


Trigger = TriggerEvent | TriggerCron


@dataclass(frozen=True)
class Cancel:
    """Cancel a run when ``event`` arrives (``match`` / ``if_exp`` relate it to the run's event)."""

    event: str
    if_exp: str | None = None
    match: str | None = None
    timeout: Duration | None = None

    def __post_init__(self) -> None:
        _non_empty(self.event, "cancel event name")
        if self.timeout is not None:
            duration_ms(self.timeout, "cancel timeout")
        if self.match is not None:
            match_expression(self.match)

    def to_wire(self) -> dict[str, Any]:
        timeout = None if self.timeout is None else duration_str(self.timeout, "cancel timeout")
        return _drop_none(
            {"event": self.event, "if": combine_if(self.if_exp, self.match), "timeout": timeout}
        )


@dataclass(frozen=True)
class Timeouts:
    """Cancel a run not started within ``start`` or not finished within ``finish``."""

    start: Duration | None = None
    finish: Duration | None = None

    def __post_init__(self) -> None:
        for name in ("start", "finish"):
            value = getattr(self, name)
            if value is not None:
                duration_ms(value, f"timeouts.{name}")

    def to_wire(self) -> dict[str, Any]:
        return _drop_none(
            {
                "start": None if self.start is None else duration_str(self.start, "start"),
                "finish": None if self.finish is None else duration_str(self.finish, "finish"),
            }
        )


@dataclass(frozen=True)
class Concurrency:
    """At most ``limit`` steps executing at once, per ``key`` within ``scope``."""

    limit: int
    key: str | None = None
    scope: Literal["fn", "env", "account"] | None = None

    def __post_init__(self) -> None:
        _positive_int(self.limit, "concurrency limit", minimum=0)
        if self.scope not in (None, "fn", "env", "account"):
            raise ConfigError(f"concurrency scope must be fn, env or account, got {self.scope!r}")

    def to_wire(self) -> dict[str, Any]:
        return _drop_none({"limit": self.limit, "key": self.key, "scope": self.scope})


@dataclass(frozen=True)
class Throttle:
    """Start at most ``limit`` runs per ``period`` (per ``key``); excess runs wait."""

    limit: int
    period: Duration
    burst: int | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        _positive_int(self.limit, "throttle limit")
        duration_ms(self.period, "throttle period")
        if self.burst is not None:
            _positive_int(self.burst, "throttle burst")

    def to_wire(self) -> dict[str, Any]:
        period = duration_str(self.period, "throttle period")
        return _drop_none(
            {"limit": self.limit, "period": period, "burst": self.burst, "key": self.key}
        )


@dataclass(frozen=True)
class RateLimit:
    """Start at most ``limit`` runs per ``period`` (per ``key``); excess events are skipped."""

    limit: int
    period: Duration
    key: str | None = None

    def __post_init__(self) -> None:
        _positive_int(self.limit, "rate limit")
        duration_ms(self.period, "rate limit period")

    def to_wire(self) -> dict[str, Any]:
        period = duration_str(self.period, "rate limit period")
        return _drop_none({"limit": self.limit, "period": period, "key": self.key})


@dataclass(frozen=True)
class Debounce:
    """Wait for ``period`` of quiet (per ``key``) and run with the last event."""

    period: Duration
    key: str | None = None
    timeout: Duration | None = None

    def __post_init__(self) -> None:
        duration_ms(self.period, "debounce period")
        if self.timeout is not None:
            duration_ms(self.timeout, "debounce timeout")

    def to_wire(self) -> dict[str, Any]:
        timeout = None if self.timeout is None else duration_str(self.timeout, "debounce timeout")
        return _drop_none(
            {
                "period": duration_str(self.period, "debounce period"),
                "key": self.key,
                "timeout": timeout,
            }
        )


@dataclass(frozen=True)
class Batch:
    """Run with up to ``max_size`` events collected for at most ``timeout``."""

    max_size: int
    timeout: Duration
    key: str | None = None
    if_exp: str | None = None

    def __post_init__(self) -> None:
        _positive_int(self.max_size, "batch max_size")
        duration_ms(self.timeout, "batch timeout")

    def to_wire(self) -> dict[str, Any]:
        return _drop_none(
            {
                "maxSize": self.max_size,
                "timeout": duration_str(self.timeout, "batch timeout"),
                "key": self.key,
                "if": self.if_exp,
            }
        )


@dataclass(frozen=True)
class Priority:
    """A CEL expression giving seconds (-600..600) a run jumps ahead in the queue."""

    run: str

    def __post_init__(self) -> None:
        _non_empty(self.run, "priority run expression")

    def to_wire(self) -> dict[str, Any]:
        return {"run": self.run}


@dataclass(frozen=True)
class Singleton:
    """At most one run per ``key``: ``skip`` new runs or ``cancel`` the running one."""

    mode: Literal["skip", "cancel"]
    key: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("skip", "cancel"):
            raise ConfigError(f"singleton mode must be 'skip' or 'cancel', got {self.mode!r}")

    def to_wire(self) -> dict[str, Any]:
        return _drop_none({"mode": self.mode, "key": self.key})
