"""Server-side checks of a synced function config, and the parsed form the engine runs.

Pydantic (``outlast.protocol.registration``) checks shapes; this module checks meaning: limits,
duration ranges, that every CEL expression and cron spec parses, and combinations that cannot work.
Errors name the function and the field by its wire name (``rateLimit.period``, ``cancel[1].if``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from outlast.engine.cron import CronError, CronSchedule, jitter_ms, parse_cron
from outlast.engine.expressions import (
    Expression,
    ExpressionError,
    compile_expression,
    match_to_expression,
)
from outlast.engine.flow import (
    ConcurrencySpec,
    DebounceSpec,
    FlowSpec,
    GcraSpec,
    SingletonSpec,
)
from outlast.protocol import ops
from outlast.protocol.durations import DurationError, format_ms, parse_ms
from outlast.protocol.registration import CronTrigger, Duration, FunctionConfig

SECOND_MS = 1000
HOUR_MS = 3600 * SECOND_MS
DAY_MS = 24 * HOUR_MS
MAX_CANCEL_TIMEOUT_MS = ops.MAX_SLEEP_MS
MAX_THROTTLE_PERIOD_MS = 7 * DAY_MS
MAX_RATE_LIMIT_PERIOD_MS = DAY_MS
MAX_DEBOUNCE_PERIOD_MS = 7 * DAY_MS
MAX_BATCH_TIMEOUT_MS = HOUR_MS
#: Features that cannot be combined with ``batchEvents`` (a batch run has no single event).
_NOT_WITH_BATCH = ("cancel", "debounce", "singleton", "priority")


class ConfigProblem(ValueError):
    """A function config the server refuses; ``function_id`` and ``field`` say where."""

    def __init__(self, function_id: str, field: str, message: str) -> None:
        super().__init__(f"function {function_id!r}: {field}: {message}")
        self.function_id = function_id
        self.field = field


@dataclass(frozen=True)
class EventTriggerSpec:
    """An event trigger: the event name and its optional filter."""

    event: str
    expression: Expression | None


@dataclass(frozen=True)
class CronTriggerSpec:
    """A cron trigger: the parsed schedule (``schedule.source`` is the spec) and max jitter."""

    schedule: CronSchedule
    jitter_ms: int

    @property
    def source(self) -> str:
        """The cron spec as synced."""
        return self.schedule.source


@dataclass(frozen=True)
class CancelSpec:
    """A cancel rule. ``expression`` combines ``match`` and ``if`` (both must hold)."""

    event: str
    expression: str | None
    timeout_ms: int | None


@dataclass(frozen=True)
class BatchSpec:
    """``batchEvents``: run with up to ``max_size`` events, after ``timeout_ms`` at most."""

    max_size: int
    timeout_ms: int
    #: CEL key: one batch per key value (None: one batch for the function).
    key: str | None
    #: Events for which this is false run on their own, unbatched.
    if_exp: Expression | None


@dataclass(frozen=True)
class FunctionSpec:
    """A validated function with the parsed values the engine needs; ``config`` is the raw sync."""

    id: str
    name: str
    app_id: str
    url: str
    retries: int
    event_triggers: tuple[EventTriggerSpec, ...]
    crons: tuple[CronTriggerSpec, ...]
    cancels: tuple[CancelSpec, ...]
    start_timeout_ms: int | None
    finish_timeout_ms: int | None
    config: dict[str, Any] = field(hash=False, compare=False)
    batch: BatchSpec | None = None
    flow: FlowSpec = field(default_factory=FlowSpec)


def build_spec(app_id: str, fn: FunctionConfig) -> FunctionSpec:
    """Validate ``fn`` (see :func:`validate_function`) and parse it into a :class:`FunctionSpec`."""
    validate_function(fn)
    events: list[EventTriggerSpec] = []
    crons: list[CronTriggerSpec] = []
    for trigger in fn.triggers:
        if isinstance(trigger, CronTrigger):
            crons.append(CronTriggerSpec(parse_cron(trigger.cron), jitter_ms(trigger.jitter)))
        else:
            src = _given(trigger.expression)
            filter_ = compile_expression(src) if src is not None else None
            events.append(EventTriggerSpec(trigger.event, filter_))
    cancels = tuple(
        CancelSpec(
            event=rule.event,
            expression=_cancel_expression(_given(rule.match), _given(rule.if_exp)),
            timeout_ms=parse_ms(rule.timeout) if rule.timeout is not None else None,
        )
        for rule in fn.cancel or ()
    )
    timeouts = fn.timeouts
    return FunctionSpec(
        id=fn.id,
        name=fn.name or fn.id,
        app_id=app_id,
        url=fn.url,
        retries=fn.retries,
        event_triggers=tuple(events),
        crons=tuple(crons),
        cancels=cancels,
        start_timeout_ms=_optional_ms(timeouts.start if timeouts else None),
        finish_timeout_ms=_optional_ms(timeouts.finish if timeouts else None),
        config=fn.model_dump(mode="json", exclude_none=True),
        batch=_batch_spec(fn),
        flow=_flow_spec(fn),
    )


def _flow_spec(fn: FunctionConfig) -> FlowSpec:
    concurrency: tuple[ConcurrencySpec, ...]
    if isinstance(fn.concurrency, int):
        concurrency = (ConcurrencySpec(fn.concurrency, None, "fn"),)
    else:
        concurrency = tuple(
            ConcurrencySpec(c.limit, _given(c.key), c.scope or "fn") for c in fn.concurrency or ()
        )
    throttle = rate_limit = debounce = singleton = None
    if fn.throttle is not None:
        t = fn.throttle
        throttle = GcraSpec(t.limit, parse_ms(t.period), t.burst or 0, _given(t.key))
    if fn.rate_limit is not None:
        r = fn.rate_limit
        rate_limit = GcraSpec(r.limit, parse_ms(r.period), 0, _given(r.key))
    if fn.debounce is not None:
        d = fn.debounce
        debounce = DebounceSpec(parse_ms(d.period), _optional_ms(d.timeout), _given(d.key))
    if fn.singleton is not None:
        singleton = SingletonSpec(_given(fn.singleton.key), fn.singleton.mode)
    return FlowSpec(
        concurrency=tuple(c for c in concurrency if c.limit > 0),
        throttle=throttle,
        rate_limit=rate_limit,
        debounce=debounce,
        priority=_given(fn.priority.run) if fn.priority else None,
        singleton=singleton,
        idempotency=_given(fn.idempotency),
    )


def _batch_spec(fn: FunctionConfig) -> BatchSpec | None:
    batch = fn.batch_events
    if batch is None:
        return None
    if_src = _given(batch.if_exp)
    return BatchSpec(
        max_size=batch.max_size,
        timeout_ms=parse_ms(batch.timeout),
        key=_given(batch.key),
        if_exp=compile_expression(if_src) if if_src is not None else None,
    )


def validate_function(fn: FunctionConfig) -> None:
    """Raise :class:`ConfigProblem` for the first rule ``fn`` breaks."""
    check = _Checker(fn.id)
    _check_triggers(check, fn)
    if not 0 <= fn.retries <= ops.MAX_RETRIES:
        raise check.problem("retries", f"must be between 0 and {ops.MAX_RETRIES}")
    _check_cancel(check, fn)
    _check_flow_control(check, fn)
    _check_combinations(check, fn)


class _Checker:
    """Helpers that raise :class:`ConfigProblem` for one function."""

    def __init__(self, function_id: str) -> None:
        self.function_id = function_id

    def problem(self, where: str, message: str) -> ConfigProblem:
        return ConfigProblem(self.function_id, where, message)

    def cel(self, where: str, src: str | None) -> None:
        src = _given(src)
        if src is None:
            return
        try:
            compile_expression(src)
        except ExpressionError as exc:
            raise self.problem(where, str(exc)) from exc

    def duration(self, where: str, value: Duration, low_ms: int, high_ms: int | None) -> int:
        try:
            ms = parse_ms(value)
        except DurationError as exc:
            raise self.problem(where, str(exc)) from exc
        if ms < low_ms or (high_ms is not None and ms > high_ms):
            bounds = f"at least {format_ms(low_ms)}"
            if high_ms is not None:
                bounds = f"between {format_ms(low_ms)} and {format_ms(high_ms)}"
            raise self.problem(where, f"{value!r} must be {bounds}")
        return ms


def _check_triggers(check: _Checker, fn: FunctionConfig) -> None:
    if len(fn.triggers) > ops.MAX_TRIGGERS:
        raise check.problem(
            "triggers", f"at most {ops.MAX_TRIGGERS} triggers, got {len(fn.triggers)}"
        )
    for i, trigger in enumerate(fn.triggers):
        where = f"triggers[{i}]"
        if isinstance(trigger, CronTrigger):
            try:
                parse_cron(trigger.cron)
            except CronError as exc:
                raise check.problem(f"{where}.cron", str(exc)) from exc
            if trigger.jitter is not None:
                check.duration(f"{where}.jitter", trigger.jitter, 0, None)
            continue
        if not trigger.event.strip():
            raise check.problem(f"{where}.event", "event name is empty")
        check.cel(f"{where}.expression", trigger.expression)


def _check_cancel(check: _Checker, fn: FunctionConfig) -> None:
    rules = fn.cancel or []
    if len(rules) > ops.MAX_CANCEL_RULES:
        raise check.problem("cancel", f"at most {ops.MAX_CANCEL_RULES} rules, got {len(rules)}")
    for i, rule in enumerate(rules):
        where = f"cancel[{i}]"
        if not rule.event.strip():
            raise check.problem(f"{where}.event", "event name is empty")
        check.cel(f"{where}.if", rule.if_exp)
        if _given(rule.match) is not None:
            try:
                check.cel(f"{where}.match", match_to_expression(rule.match or ""))
            except ExpressionError as exc:
                raise check.problem(f"{where}.match", str(exc)) from exc
        if rule.timeout is not None:
            check.duration(f"{where}.timeout", rule.timeout, 1, MAX_CANCEL_TIMEOUT_MS)


def _check_flow_control(check: _Checker, fn: FunctionConfig) -> None:
    if isinstance(fn.concurrency, int):
        if fn.concurrency < 0:
            raise check.problem("concurrency", "limit must be 0 (unlimited) or more")
    elif fn.concurrency is not None:
        if len(fn.concurrency) > ops.MAX_CONCURRENCY_CONSTRAINTS:
            raise check.problem(
                "concurrency",
                f"at most {ops.MAX_CONCURRENCY_CONSTRAINTS} constraints, got {len(fn.concurrency)}",
            )
        for i, limit in enumerate(fn.concurrency):
            if limit.limit < 0:
                raise check.problem(f"concurrency[{i}].limit", "must be 0 (unlimited) or more")
            check.cel(f"concurrency[{i}].key", limit.key)
    if fn.throttle is not None:
        if fn.throttle.limit < 1:
            raise check.problem("throttle.limit", "must be at least 1")
        check.duration("throttle.period", fn.throttle.period, SECOND_MS, MAX_THROTTLE_PERIOD_MS)
        check.cel("throttle.key", fn.throttle.key)
    if fn.rate_limit is not None:
        if fn.rate_limit.limit < 1:
            raise check.problem("rateLimit.limit", "must be at least 1")
        check.duration(
            "rateLimit.period", fn.rate_limit.period, SECOND_MS, MAX_RATE_LIMIT_PERIOD_MS
        )
        check.cel("rateLimit.key", fn.rate_limit.key)
    if fn.debounce is not None:
        period = check.duration(
            "debounce.period", fn.debounce.period, SECOND_MS, MAX_DEBOUNCE_PERIOD_MS
        )
        if fn.debounce.timeout is not None:
            check.duration("debounce.timeout", fn.debounce.timeout, period, MAX_DEBOUNCE_PERIOD_MS)
        check.cel("debounce.key", fn.debounce.key)
    if fn.batch_events is not None:
        if fn.batch_events.max_size < 1:
            raise check.problem("batchEvents.maxSize", "must be at least 1")
        check.duration(
            "batchEvents.timeout", fn.batch_events.timeout, SECOND_MS, MAX_BATCH_TIMEOUT_MS
        )
        check.cel("batchEvents.key", fn.batch_events.key)
        check.cel("batchEvents.if", fn.batch_events.if_exp)
    if fn.priority is not None:
        check.cel("priority.run", fn.priority.run)
    if fn.singleton is not None:
        check.cel("singleton.key", fn.singleton.key)
    check.cel("idempotency", fn.idempotency)
    if fn.timeouts is not None:
        if fn.timeouts.start is not None:
            check.duration("timeouts.start", fn.timeouts.start, 1, None)
        if fn.timeouts.finish is not None:
            check.duration("timeouts.finish", fn.timeouts.finish, 1, None)


def _check_combinations(check: _Checker, fn: FunctionConfig) -> None:
    if fn.batch_events is None:
        return
    present = {
        "cancel": bool(fn.cancel),
        "debounce": fn.debounce is not None,
        "singleton": fn.singleton is not None,
        "priority": fn.priority is not None,
    }
    for name in _NOT_WITH_BATCH:
        if present[name]:
            raise check.problem("batchEvents", f"batchEvents cannot be combined with {name}")


def _cancel_expression(match: str | None, if_exp: str | None) -> str | None:
    parts = [match_to_expression(match)] if match is not None else []
    if if_exp is not None:
        parts.append(if_exp)
    if len(parts) == 2:
        return f"({parts[0]}) && ({parts[1]})"
    return parts[0] if parts else None


def _optional_ms(value: Duration | None) -> int | None:
    return parse_ms(value) if value is not None else None


def _given(src: str | None) -> str | None:
    # An empty expression means "not set", as some SDK versions send "" rather than omit it.
    return src if src is not None and src.strip() else None
