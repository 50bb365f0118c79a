"""JSON responses (orjson), request-body helpers with limits, and what the routes share to
read and write JSON: dates as ISO 8601 strings, the names of JSON types in error messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from outlast.protocol import jsonutil


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    """A request body that cannot be read: too large (413) or not JSON (400)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        jsonutil.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


#: Error messages quote what was sent (an expression, a name); this keeps them readable.
MAX_ERROR_CHARS = 1000


def error(message: str, status: int) -> Response:
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS] + "..."
    return json_response({"error": message, "status": status}, status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (without reading it all) one over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    digits = declared is not None and declared.isascii() and declared.isdigit()
    if declared is not None and digits and (len(declared) > 18 or int(declared) > limit):
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int, what: str = "request body") -> Any:
    """The request body parsed as JSON; :class:`BadBody` when too large or not JSON."""
    try:
        raw = await read_body(request, limit)
    except BodyTooLarge:
        raise BadBody(f"{what} is larger than {limit} bytes", 413) from None
    try:
        return jsonutil.loads(raw)
    except ValueError:
        raise BadBody(f"{what} is not valid JSON", 400) from None


def json_type(value: Any) -> str:
    """How a JSON value is called in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


_DATE_EXAMPLE = "2024-01-21T18:23:12.000Z"


def date_ms(body: dict[str, Any], key: str) -> int | str:
    """The field as unix ms, or why it is refused. A date without a zone is UTC."""
    raw = body.get(key)
    if not isinstance(raw, str) or not raw.strip():
        return f"{key} is required: an ISO 8601 date-time such as {_DATE_EXAMPLE}"
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        return f"{key} is not an ISO 8601 date-time: {raw[:60]!r} (e.g. {_DATE_EXAMPLE})"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def iso(ms: int | None) -> str | None:
    """Unix ms as an ISO 8601 UTC date-time with milliseconds (``...Z``); None stays None."""
    if ms is None:
        return None
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def envelope(data: Any) -> Response:
    """A REST API answer: the data, and when it was read (Inngest's ``/v1`` envelope)."""
    return json_response(
        {"data": data, "metadata": {"fetched_at": iso(int(datetime.now(UTC).timestamp() * 1000))}}
    )
