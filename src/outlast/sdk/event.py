"""The event record users send and handlers receive."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """An event: a name plus a JSON object of data.

    ``id`` is the caller's deduplication id (the server assigns one when unset);
    ``ts`` is the time in milliseconds since the epoch (the server uses now when unset).
    """

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    ts: int | None = None
    user: dict[str, Any] | None = None
    v: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form, leaving out unset fields."""
        out: dict[str, Any] = {"name": self.name, "data": dict(self.data)}
        if self.id:
            out["id"] = self.id
        if self.ts is not None:
            out["ts"] = self.ts
        if self.user is not None:
            out["user"] = dict(self.user)
        if self.v is not None:
            out["v"] = self.v
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        """Build an event from its wire form, tolerating missing and null fields."""
        if not isinstance(raw, Mapping):
            raise TypeError(f"an event must be a JSON object, not {type(raw).__name__}")
        name = raw.get("name")
        if not isinstance(name, str):
            raise TypeError("an event needs a string 'name'")
        data = raw.get("data") or {}
        if not isinstance(data, dict):
            raise TypeError("event 'data' must be a JSON object")
        ts = raw.get("ts")
        user = raw.get("user")
        v = raw.get("v")
        return cls(
            name=name,
            data=data,
            id=str(raw["id"]) if raw.get("id") else None,
            ts=int(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None,
            user=user if isinstance(user, dict) else None,
            v=v if isinstance(v, str) else None,
        )


def event_to_dict(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    """Accept an ``Event`` or a plain dict and give the wire form."""
    if isinstance(event, Event):
        return event.to_dict()
    if isinstance(event, Mapping):
        return Event.from_dict(event).to_dict()
    raise TypeError(f"expected an outlast.Event or a dict, got {type(event).__name__}")
