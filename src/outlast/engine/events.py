"""Events: validating what the event API receives, matching triggers and waits, and the
system events the engine emits."""

from __future__ import annotations

from typing import Any

from outlast.domain import EventRecord, RunRecord, RunStatus, Wait
from outlast.engine import sessions
from outlast.engine.config import FunctionSpec
from outlast.engine.expressions import ExpressionError, compile_expression
from outlast.protocol import ids, jsonutil
from outlast.protocol.ops import (
    EVENT_CRON,
    EVENT_FUNCTION_CANCELLED,
    EVENT_FUNCTION_FAILED,
    EVENT_FUNCTION_FINISHED,
    EVENT_FUNCTION_INVOKED,
    MAX_EVENT_NAME_LENGTH,
    RESERVED_PREFIX,
)

#: Event timestamps outside [1980, 2100) are refused.
_MIN_TS = 315_532_800_000
_MAX_TS = 4_102_444_800_000


class InvalidEvent(ValueError):
    """An event the API refuses, with the reason a user can act on."""


def normalise(raw: Any, internal_id: str, now: int, max_bytes: int) -> EventRecord:
    """Check one event as received and build its record (protocol.md §1)."""
    if not isinstance(raw, dict):
        raise InvalidEvent("an event must be a JSON object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidEvent("event name is empty")
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise InvalidEvent(f"event name is longer than {MAX_EVENT_NAME_LENGTH} characters")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidEvent(f"event names starting with {RESERVED_PREFIX!r} are reserved")
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidEvent("event data must be a JSON object")
    data = {k: v for k, v in data.items() if k != "_inngest"}
    user = raw.get("user") or {}
    if not isinstance(user, dict):
        raise InvalidEvent("event user must be a JSON object")
    ts = raw.get("ts")
    if ts is None or ts == 0:
        ts = now
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise InvalidEvent("event ts must be a number of milliseconds")
    ts = int(ts)
    if not _MIN_TS <= ts < _MAX_TS:
        raise InvalidEvent("event ts must be between 1980 and 2100 (unix milliseconds)")
    event_id = raw.get("id")
    if event_id is not None and not isinstance(event_id, str):
        raise InvalidEvent("event id must be a string")
    payload: dict[str, Any] = {
        "name": name,
        "data": data,
        "id": event_id or internal_id,
        "ts": ts,
        "user": user,
    }
    version = raw.get("v")
    if version is not None:
        if not isinstance(version, str):
            raise InvalidEvent("event v (the payload version) must be a string")
        payload["v"] = version
    try:
        meta = sessions.resolve_meta(raw.get("meta"))
    except sessions.InvalidSessions as exc:
        raise InvalidEvent(str(exc)) from None
    if meta is not None:
        payload["meta"] = meta
    if len(jsonutil.dumps(payload)) > max_bytes:
        raise InvalidEvent(f"event is larger than the limit of {max_bytes} bytes")
    return EventRecord(internal_id=internal_id, name=name, payload=payload, received_at=now)


def trigger_patterns(name: str) -> list[str]:
    """The trigger names an event fires, as Inngest matches them: its own name, and a
    wildcard after each ``/`` or ``.`` of it (``app/user.created`` fires ``app/*`` and
    ``app/user.*`` too). A wildcard stands for the rest of the name, never mid-word."""
    patterns = [name]
    for sep in ("/", "."):
        parts = name.split(sep)
        patterns += [sep.join(parts[: n + 1]) + sep + "*" for n in range(len(parts) - 1)]
    return patterns


def trigger_matches(spec: FunctionSpec, payload: dict[str, Any]) -> bool:
    """Does one of the function's triggers for this event name accept it?"""
    name = payload.get("name")
    if not isinstance(name, str):
        return False
    for trig in spec.event_triggers:
        # A wildcard trigger is checked against the event's patterns; a name, as it is.
        wildcard = trig.event.endswith("*")
        if trig.event != name and not (wildcard and trig.event in trigger_patterns(name)):
            continue
        if trig.expression is None or trig.expression.matches({"event": payload}):
            return True
    return False


def wait_matches(wait: Wait, incoming: dict[str, Any]) -> bool:
    if not wait.expression:
        return True
    try:
        expr = compile_expression(wait.expression)
    except ExpressionError:
        return False
    return expr.matches({"event": wait.event or {}, "async": incoming})


def _system(name: str, data: dict[str, Any], now: int, event_id: str | None = None) -> EventRecord:
    internal = ids.ulid_at(now)
    payload = {"name": name, "data": data, "id": event_id or internal, "ts": now, "user": {}}
    return EventRecord(internal_id=internal, name=name, payload=payload, received_at=now)


def system_events(
    run: RunRecord, status: RunStatus, output: Any, error: dict[str, Any] | None, now: int
) -> list[EventRecord]:
    """``inngest/function.finished`` and, by outcome, ``.failed`` or ``.cancelled``."""
    base: dict[str, Any] = {
        "function_id": run.function_id,
        "run_id": run.id,
        "event": run.events[0] if run.events else {},
        "events": run.events,
    }
    if run.parent and run.parent.get("correlation_id"):
        base["correlation_id"] = run.parent["correlation_id"]
    out: list[EventRecord] = []
    finished = dict(base)
    if status is RunStatus.COMPLETED:
        finished["result"] = output
    else:
        finished["error"] = error
    if status is RunStatus.FAILED:
        out.append(_system(EVENT_FUNCTION_FAILED, {**base, "error": error}, now, run.id))
    elif status is RunStatus.CANCELLED:
        out.append(_system(EVENT_FUNCTION_CANCELLED, {**base, "error": error}, now))
    # A failure handler of a failure handler would loop forever on its own failures.
    if run.function_id.endswith("-failure") and status is RunStatus.FAILED:
        out = []
    out.append(_system(EVENT_FUNCTION_FINISHED, finished, now))
    return out


def cron_event(cron: str, tick: int) -> dict[str, Any]:
    return {
        "name": EVENT_CRON,
        "data": {"cron": cron},
        "id": f"cron-{tick}",
        "ts": tick,
        "user": {},
    }


def invoked_event(
    function_id: str, correlation_id: str, caller_run_id: str, payload: dict[str, Any], now: int
) -> dict[str, Any]:
    data = payload.get("data") or {}
    if not isinstance(data, dict):
        data = {"value": data}
    # The invoking run's sessions (the JS SDK stamps them on the payload), merged as an
    # event's; a malformed layer is left out rather than failing the invoke.
    try:
        meta = sessions.resolve_meta(payload.get("meta"))
    except sessions.InvalidSessions:
        meta = None
    event = {
        "name": EVENT_FUNCTION_INVOKED,
        "data": {
            **data,
            "_inngest": {
                "fn_id": function_id,
                "correlation_id": correlation_id,
                "source_run_id": caller_run_id,
            },
        },
        "id": ids.ulid_at(now),
        "ts": now,
        "user": payload.get("user") or {},
    }
    if meta is not None:
        event["meta"] = meta
    return event
