"""One op of an app's answer (a 206 body, a checkpoint): the wire form shared by the SDK,
which writes it, and the server, which parses it once here and reads typed fields after.

An op says what a step did or wants: ``StepRun`` (ran, with its output), ``StepPlanned``
(to be run in a call of its own), ``StepError`` / ``StepFailed``, ``Sleep``,
``WaitForEvent``, ``InvokeFunction``, ``RunComplete``. Unknown op codes are kept as their
text, so the server can say which op it does not support.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from outlast.protocol.ops import Opcode


class _Absent:
    """The ``data`` of an op that carries none (a planned step), as opposed to ``null``."""

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


#: ``Op.data`` when the op has no ``data`` field at all.
ABSENT: Any = _Absent()


#: A duration as the SDKs send one: ``"1h30m"``, or a number of milliseconds.
WireDuration = str | int | float


class OpError(ValueError):
    """An answer that is not a list of ops."""


@dataclass(frozen=True, slots=True)
class Timing:
    """When a checkpointed step ran, in unix ms of the app's clock."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Op:
    """One op, as parsed from the wire (``from_wire``) or about to be sent (``to_wire``)."""

    op: str
    #: The step's hashed id; empty when the app sent none.
    id: str = ""
    #: ``name``: the step's name, which some ops use as an argument (a sleep's duration,
    #: a wait's event name).
    name: str | None = None
    #: ``displayName``: the step's id as the user wrote it.
    display_name: str | None = None
    opts: Mapping[str, Any] = field(default_factory=dict)
    data: Any = ABSENT
    error: Mapping[str, Any] | None = None
    #: ``userland``: the user's step id and its index when the id repeats.
    user_id: str | None = None
    index: int | None = None
    timing: Timing | None = None

    @property
    def label(self) -> str | None:
        """What a person reads as the step's name."""
        return self.display_name or self.name

    @property
    def output(self) -> Any:
        """``data``, with a missing field read as null."""
        return None if self.data is ABSENT else self.data

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Op:
        """Parse one op. Fields of the wrong type are dropped (read as absent)."""
        opts = raw.get("opts")
        userland = raw.get("userland")
        user_id = index = None
        if isinstance(userland, Mapping):
            user_id = _text(userland.get("id"))
            index = userland.get("index") if _is_int(userland.get("index")) else None
        return cls(
            op=str(raw.get("op", "")),
            id=str(raw.get("id") or ""),
            name=_text(raw.get("name")),
            display_name=_text(raw.get("displayName")),
            opts=opts if isinstance(opts, Mapping) else {},
            data=raw.get("data", ABSENT),
            error=_error(raw.get("error")),
            user_id=user_id,
            index=index,
            timing=_timing(raw.get("timing")),
        )

    def to_wire(self) -> dict[str, Any]:
        """The op as the SDKs send it."""
        out: dict[str, Any] = {"id": self.id, "op": self.op}
        if self.name is not None:
            out["name"] = self.name
        if self.display_name is not None:
            out["displayName"] = self.display_name
        if self.user_id is not None:
            out["userland"] = {"id": self.user_id, "index": self.index}
        if self.opts:
            out["opts"] = dict(self.opts)
        if self.data is not ABSENT:
            out["data"] = self.data
        if self.error is not None:
            out["error"] = dict(self.error)
        if self.timing is not None:
            out["timing"] = {"start": self.timing.start, "end": self.timing.end}
        return out


@dataclass(frozen=True, slots=True)
class SleepOpts:
    """A ``Sleep`` op's ``opts``. The time may instead be the op's ``name``."""

    #: A duration (``"1h30m"``) or an ISO 8601 date.
    duration: str | None = None

    @classmethod
    def from_wire(cls, opts: Mapping[str, Any]) -> SleepOpts:
        return cls(duration=_text(opts.get("duration") or None))


@dataclass(frozen=True, slots=True)
class WaitOpts:
    """A ``WaitForEvent`` op's ``opts``. The event's name may instead be the op's ``name``."""

    event: str | None = None
    timeout: WireDuration | None = None
    #: A CEL expression over ``event`` (the run's trigger) and ``async`` (the awaited one).
    if_exp: str | None = None
    #: ``"data.user_id"``: the two events agree on this field.
    match: str | None = None

    @classmethod
    def from_wire(cls, opts: Mapping[str, Any]) -> WaitOpts:
        return cls(
            event=_text(opts.get("event") or None),
            timeout=_duration(opts.get("timeout")),
            if_exp=_text(opts.get("if") or None),
            match=_text(opts.get("match") or None),
        )

    def to_wire(self) -> dict[str, Any]:
        wire = {"event": self.event, "timeout": self.timeout, "if": self.if_exp}
        wire["match"] = self.match
        return {k: v for k, v in wire.items() if v is not None}


@dataclass(frozen=True, slots=True)
class InvokeOpts:
    """An ``InvokeFunction`` op's ``opts``."""

    function_id: str = ""
    #: The invoked run's event (``{"data": ...}``).
    payload: Mapping[str, Any] = field(default_factory=dict)
    timeout: WireDuration | None = None

    @classmethod
    def from_wire(cls, opts: Mapping[str, Any]) -> InvokeOpts:
        payload = opts.get("payload")
        return cls(
            function_id=str(opts.get("function_id") or ""),
            payload=payload if isinstance(payload, Mapping) else {},
            timeout=_duration(opts.get("timeout")),
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"function_id": self.function_id, "payload": dict(self.payload)}
        if self.timeout is not None:
            wire["timeout"] = self.timeout
        return wire


def parallel_mode(opts: Mapping[str, Any]) -> str | None:
    """A planned step's ``parallelMode`` (``"race"`` or ``"wait"``), if any."""
    return _text(opts.get("parallelMode"))


def parse_ops(body: Any) -> tuple[Op, ...]:
    """A 206 body (one op or a list of them) as ops. Raises :class:`OpError` naming what
    is wrong: a body that is not a list of objects, an op without ``op``, or an op other
    than ``RunComplete`` without the ``id`` of its step."""
    if isinstance(body, Mapping):
        body = [body]
    if not isinstance(body, list):
        raise OpError(f"a 206 answer must be a list of ops, not {_kind(body)}")
    ops = []
    for i, raw in enumerate(body):
        if not isinstance(raw, Mapping):
            raise OpError(f"op {i} of the answer is {_kind(raw)}, not an object")
        op = Op.from_wire(raw)
        if not op.op:
            raise OpError(f"op {i} of the answer has no 'op' (its keys: {_keys(raw)})")
        if not op.id and op.op != Opcode.RUN_COMPLETE:
            raise OpError(f"op {i} of the answer ({op.op[:40]!r}) has no step 'id'")
        ops.append(op)
    return tuple(ops)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _keys(raw: Mapping[str, Any]) -> str:
    return ", ".join(sorted(str(k)[:40] for k in raw)[:10]) or "none"


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _duration(value: Any) -> WireDuration | None:
    if not value or isinstance(value, bool):
        return None
    return value if isinstance(value, str | int | float) else str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error(value: Any) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    return {"name": "Error", "message": str(value)}


def _timing(value: Any) -> Timing | None:
    """An op's ``timing``: Outlast's SDK sends ``{"start", "end"}`` in unix ms; the JS SDK
    a Go ``interval.Interval``, ``{"a": start, "b": duration}`` in nanoseconds."""
    if not isinstance(value, Mapping):
        return None
    start, end = value.get("start"), value.get("end")
    if isinstance(start, int) and isinstance(end, int) and _is_int(start) and _is_int(end):
        return Timing(start, end)
    a, b = value.get("a"), value.get("b")
    if not (isinstance(a, int | float) and isinstance(b, int | float)):
        return None
    if _is_number(a) and _is_number(b) and a >= 0 and b >= 0:
        begin = int(a // 1_000_000)
        return Timing(begin, begin + int(b // 1_000_000))
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
