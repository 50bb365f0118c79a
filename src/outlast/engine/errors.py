"""Errors as Inngest shapes them: the ``StandardError`` its server writes for the errors it
makes itself (timeouts, limits, unsupported ops) and for the error of a failed run in the
``inngest/function.failed`` / ``.finished`` events, which ``onFailure`` handlers read.

An error an SDK sent is stored exactly as sent (every field, ``code`` included); these
shapes are only what the server adds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_NAME = "Error"
DEFAULT_MESSAGE = "Function execution error"


def standard(name: str, message: str, stack: str | None = None) -> dict[str, Any]:
    """An error the server makes: ``error`` is ``"<name>: <message>"``, as Inngest's."""
    out: dict[str, Any] = {"error": f"{name}: {message}", "name": name, "message": message}
    if stack:
        out["stack"] = stack
    return out


def http_failure(status: int | None, message: str) -> str:
    """What went wrong with a call, as Inngest words it: the status an app answered, or
    why there was no answer."""
    return f"invalid status code: {status}" if status is not None else message


def as_standard(error: Mapping[str, Any] | None, reason: str | None = None) -> dict[str, Any]:
    """A run's error as the failure events carry it: ``error``, ``name``, ``message`` and
    (when set) ``stack`` and ``cause`` taken from what the SDK sent, ``reason`` (how the
    call failed) filling ``error`` and ``message`` where the SDK gave none. Fields of the
    SDK's own (``code``…) are not part of it, as with Inngest."""
    out: dict[str, Any] = {"error": DEFAULT_MESSAGE, "name": DEFAULT_NAME}
    out["message"] = DEFAULT_MESSAGE
    source: Mapping[str, Any] = error or {}
    nested = source.get("error")
    if isinstance(nested, Mapping):  # {"error": {...}}: the error is inside
        source = nested
    for key in ("error", "name", "message", "stack"):
        value = source.get(key)
        if isinstance(value, str) and value:
            out[key] = value
    if source.get("cause") is not None:
        out["cause"] = source["cause"]
    if reason:
        if out["error"] == DEFAULT_MESSAGE:
            out["error"] = reason
        if out["message"] == DEFAULT_MESSAGE:
            out["message"] = reason
    return out


# -- the errors the server makes, with Inngest's names and messages; Outlast's detail (sizes,
# -- limits, what it saw) goes in ``stack``, where Inngest's UI shows more about an error.

#: The furthest ahead a sleep may end or a wait time out: Inngest's 366 days.
MAX_TIMEOUT_MS = 366 * 24 * 3600 * 1000


def invoke_timeout() -> dict[str, Any]:
    return standard(
        "InngestInvokeTimeoutError", "Timed out waiting for invoked function to complete"
    )


def output_too_large(detail: str) -> dict[str, Any]:
    """A step's or the function's output over the limit (Inngest's ``output_too_large``)."""
    return standard("output_too_large", "step output size is greater than the limit", detail)


def answer_too_large(detail: str) -> dict[str, Any]:
    """An app's whole answer over what the server reads."""
    msg = "Your function's response body exceeds the maximum size limit"
    return standard("output_too_large", msg, detail)


def state_overflowed(limit: int, detail: str) -> dict[str, Any]:
    msg = f"The function run exceeded the state size limit of {limit} bytes."
    return standard("InngestErrStateOverflowed", msg, detail)


def sleep_too_long(raw: str) -> dict[str, Any]:
    msg = (
        f"The sleep {raw!r} ends more than one year in the future; "
        "sleeps may last at most one year."
    )
    return standard("InngestErrTimeoutTooLong", msg)


def wait_too_long(raw: str) -> dict[str, Any]:
    msg = (
        f"The wait-for-event timeout {raw!r} expires more than one year in the future; "
        "timeouts may last at most one year."
    )
    return standard("InngestErrTimeoutTooLong", msg)


def unknown_opcode(op: str) -> dict[str, Any]:
    detail = "Outlast does not carry out this op yet: the step fails rather than wait for ever"
    return standard(DEFAULT_NAME, f"unknown opcode: {op}", detail)
