"""JSON encoding used on the wire: orjson for speed, RFC 8785 when a signature is involved."""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

JSONValue = Any


def dumps(value: object) -> bytes:
    """Encode compact JSON (non-str dict keys allowed, dataclasses and datetimes supported)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def dumps_str(value: object) -> str:
    return dumps(value).decode()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    return orjson.loads(data)


def canonical(value: object) -> bytes:
    """RFC 8785 canonical JSON: what the Python SDK hashes when it checks a request signature."""
    # rfc8785 only knows plain JSON types; round-trip through orjson to get them.
    return rfc8785.dumps(orjson.loads(dumps(value)))
