"""Turning user values and exceptions into the JSON the server stores."""

from __future__ import annotations

import dataclasses
import logging
import traceback
from typing import Any

import orjson
import pydantic

from outlast.sdk.errors import OutputUnserializableError, StepError

logger = logging.getLogger(__name__)


def _default(value: object) -> object:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset):
        raise TypeError("sets are not JSON serialisable; return a list")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json_value(value: object, what: str = "value") -> Any:
    """Plain JSON types for ``value`` (pydantic models and dataclasses are dumped).

    Raises OutputUnserializableError (non-retriable) when it cannot be encoded.
    """
    try:
        return orjson.loads(orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS))
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise OutputUnserializableError(f"{what} is not JSON serialisable: {exc}") from exc


def format_stack(err: BaseException) -> str:
    """The traceback of ``err`` as one string."""
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))


def error_dict(err: BaseException) -> dict[str, Any]:
    """``{name, message, stack}`` for an error, as the server stores it in a memo."""
    if isinstance(err, StepError):
        return {"name": err.name, "message": err.message, "stack": err.stack or ""}
    return {"name": type(err).__name__, "message": str(err), "stack": format_stack(err)}
