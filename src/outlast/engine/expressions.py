"""CEL expressions: trigger filters, wait/cancel conditions and flow-control keys.

Expressions see ``event`` (the event dict: name, data, id, ts, user, v) and, for waits and cancel
rules, ``async`` (the incoming event). They run on the ``cel`` package (a Rust CEL implementation),
never on Python ``eval``.

Numbers: CEL has distinct int and double types. Comparisons across them work as expected
(``event.data.n > 1`` is true for both ``2`` and ``2.5``; ``2 == 2.0`` is true), so values are
passed through unchanged. Arithmetic does not mix them (``event.data.n + 1`` fails when ``n``
is ``2.5``); write ``double(event.data.n) + 1.0`` in such cases. That failure makes
:meth:`Expression.matches` false, like any other runtime error. Integers beyond 64 bits arrive
as doubles (the extension converts them lossily).

Missing fields: reading an absent key is a runtime error in CEL (test with ``has(event.data.x)``).
:meth:`Expression.matches` treats it as "no match", :func:`evaluate_key` as the empty key.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Mapping

import cel

logger = logging.getLogger(__name__)

#: The key of an event whose key expression yields null or cannot be evaluated (missing field).
EMPTY_KEY = ""

_EVENT_PREFIX = "event."


class ExpressionError(ValueError):
    """A CEL expression that does not compile, or that failed at evaluation."""


class Expression:
    """A compiled CEL expression. Get one from :func:`compile_expression` (cached)."""

    __slots__ = ("_program", "source")

    def __init__(self, source: str, program: cel.Program) -> None:
        self.source = source
        self._program = program

    def evaluate(self, variables: Mapping[str, object]) -> object:
        """Evaluate over ``variables``; raise :class:`ExpressionError` on any runtime error."""
        try:
            return self._program.execute(dict(variables))
        # The extension raises KeyError, TypeError, RuntimeError, ZeroDivisionError, ... for
        # runtime failures; all of them mean "this expression has no value for this input".
        except Exception as exc:
            raise ExpressionError(f"cannot evaluate {self.source!r}: {_describe(exc)}") from exc

    def matches(self, variables: Mapping[str, object]) -> bool:
        """True only when the expression evaluates to boolean ``true``; errors count as false."""
        try:
            return self.evaluate(variables) is True
        except ExpressionError as exc:
            logger.debug("expression did not match", extra={"expression": self.source, "err": exc})
            return False

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


@functools.lru_cache(maxsize=4096)
def compile_expression(src: str) -> Expression:
    """Compile CEL source once (cached per distinct source); raise :class:`ExpressionError`."""
    if not src.strip():
        raise ExpressionError("empty expression")
    try:
        program = cel.compile(src)
    except Exception as exc:  # ValueError from the parser; anything else is just as invalid
        raise ExpressionError(f"invalid CEL expression {src!r}: {_describe(exc)}") from exc
    return Expression(src, program)


def match_to_expression(match: str) -> str:
    """Expand the ``match: "data.userId"`` shorthand to ``event.data.userId == async.data.userId``.

    A leading ``event.`` is accepted (``"event.data.userId"`` gives the same result).
    """
    field = match.strip()
    if field.startswith(_EVENT_PREFIX):
        field = field[len(_EVENT_PREFIX) :]
    if not field:
        raise ExpressionError(f"empty match field {match!r}")
    return f"event.{field} == async.{field}"


def evaluate_key(src: str, event: Mapping[str, object]) -> str:
    """Evaluate a flow-control key expression over ``{"event": event}`` into a stable string.

    Strings are returned as they are; other values as canonical JSON (sorted keys, no spaces,
    integral doubles written as integers so ``2`` and ``2.0`` share a key). Null and any runtime
    error (typically a missing field) give :data:`EMPTY_KEY`. Invalid CEL raises
    :class:`ExpressionError` — configs are validated at sync time, so that is a programming error.
    """
    expression = compile_expression(src)
    try:
        value = expression.evaluate({"event": event})
    except ExpressionError as exc:
        logger.debug("key expression failed", extra={"expression": src, "err": exc})
        return EMPTY_KEY
    if value is None:
        return EMPTY_KEY
    if isinstance(value, str):
        return value
    return json.dumps(
        _normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def _normalise(value: object) -> object:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such key {exc.args[0]!r}" if exc.args else "no such key"
    # The parser's messages repeat the source and add an excerpt with a caret on further lines;
    # keep the position and the reason.
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else type(exc).__name__
    _, found, rest = first.partition("ERROR: <input>:")
    return f"at {rest}" if found else first
