"""Event sessions (``meta.sessions``): ids grouping the runs an event starts, as Inngest
keeps them.

An event may carry two layers: ``sessions``, set by the user, and ``propagated_sessions``,
which an SDK stamps on the events a run sends (and its invokes) so that child runs stay in
their parent's sessions. At ingest the layers merge into one ``sessions`` map: the user's
keys always win; a ``null`` value cuts that inherited key, and ``sessions: null`` all of
them; the remaining room (5 sessions in all) is filled from the inherited layer in key
order. The propagated layer is never stored.
"""

from __future__ import annotations

from typing import Any

#: At most this many sessions on one event; key and id lengths in bytes.
MAX_SESSIONS = 5
MAX_KEY_BYTES = 128
MAX_ID_BYTES = 512


class InvalidSessions(ValueError):
    """The event's ``meta`` cannot be accepted; the message says why."""


def resolve_meta(meta: Any) -> dict[str, Any] | None:
    """An event's ``meta`` as stored: ``{"sessions": {...}}`` with the layers merged, or
    None when it holds no session. Raises :class:`InvalidSessions`."""
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise InvalidSessions("event meta must be a JSON object")
    manual, cuts, clear_all = _manual(meta.get("sessions", _ABSENT))
    inherited = {} if clear_all else _layer(meta.get("propagated_sessions"), "propagated")
    for key in cuts:
        inherited.pop(key, None)
    merged = dict(manual)
    room = MAX_SESSIONS - len(merged)
    for key in sorted(k for k in inherited if k not in merged):
        if room <= 0:
            break
        merged[key] = inherited[key]
        room -= 1
    _check(merged)
    return {"sessions": merged} if merged else None


_ABSENT = object()


def _manual(value: Any) -> tuple[dict[str, str], list[str], bool]:
    """The user's layer: its sessions, the inherited keys it cuts, whether it cuts all."""
    if value is _ABSENT:
        return {}, [], False
    if value is None:
        return {}, [], True
    if not isinstance(value, dict):
        raise InvalidSessions("event meta.sessions must be a JSON object or null")
    sessions: dict[str, str] = {}
    cuts: list[str] = []
    for key, sid in value.items():
        if sid is None:
            cuts.append(key)
        else:
            sessions[key] = _session_id(key, sid)
    return sessions, cuts, False


def _layer(value: Any, which: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSessions(f"event meta.{which}_sessions must be a JSON object")
    return {key: _session_id(key, sid) for key, sid in value.items()}


def _session_id(key: str, sid: Any) -> str:
    if isinstance(sid, str):
        return sid
    if isinstance(sid, int | float) and not isinstance(sid, bool):
        return str(sid)
    raise InvalidSessions(f"event session {key!r} must be a string, number, or null")


def _check(sessions: dict[str, str]) -> None:
    if len(sessions) > MAX_SESSIONS:
        raise InvalidSessions(f"event sessions can include at most {MAX_SESSIONS} entries")
    for key, sid in sessions.items():
        if not key:
            raise InvalidSessions("event session keys cannot be empty")
        if len(key.encode()) > MAX_KEY_BYTES:
            raise InvalidSessions(f"event session key {key[:40]!r} exceeds {MAX_KEY_BYTES} bytes")
        if not sid:
            raise InvalidSessions(f"event session {key!r} cannot have an empty ID")
        if len(sid.encode()) > MAX_ID_BYTES:
            raise InvalidSessions(f"event session {key!r} exceeds {MAX_ID_BYTES} bytes")
