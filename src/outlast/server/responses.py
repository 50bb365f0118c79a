"""JSON responses (orjson) and request-body helpers with limits."""

from __future__ import annotations

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
