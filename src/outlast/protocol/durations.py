"""Duration strings as the SDKs send them: "30s", "1m", "1h30m", "2d", "1w", "500ms"."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
#: Longest duration accepted anywhere (100 years): far beyond every limit the server
#: enforces, yet small enough that ``now + duration`` fits a 64-bit column.
MAX_DURATION_MS = 36_500 * 86_400_000


class DurationError(ValueError):
    """A duration string that cannot be parsed."""


def parse_ms(text: str | int | float) -> int:
    """Parse a duration into milliseconds. Bare numbers are milliseconds (as in the JS SDK)."""
    if isinstance(text, bool):
        raise DurationError(f"invalid duration {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise DurationError(f"negative duration {text!r}")
        return _bounded(text, text)
    s = text.strip().replace(" ", "")
    if not s:
        raise DurationError("empty duration")
    if s.isdigit():
        return _bounded(float(s) if len(s) > 30 else int(s), text)
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            raise DurationError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS_MS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise DurationError(f"invalid duration {text!r}")
    return _bounded(total, text)


def _bounded(ms: float, text: str | int | float) -> int:
    if ms != ms:  # nan
        raise DurationError("invalid duration nan")
    if ms > MAX_DURATION_MS:
        limit = f"{MAX_DURATION_MS // 86_400_000}d"
        if not isinstance(text, str):  # str() of a huge int may itself fail: not echoed back
            raise DurationError(f"duration is longer than {limit}")
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise DurationError(f"duration {shown!r} is longer than {limit}")
    return int(ms)


def parse(text: str | int | float) -> timedelta:
    return timedelta(milliseconds=parse_ms(text))


def format_ms(ms: int) -> str:
    """Format milliseconds as the shortest duration string ("1h30m", "45s", "250ms")."""
    if ms <= 0:
        return "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS_MS[unit]
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    if ms:
        parts.append(f"{ms}ms")
    return "".join(parts)


def format(value: timedelta) -> str:
    return format_ms(int(value.total_seconds() * 1000))
