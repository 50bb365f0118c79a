"""Cron schedules: ``[TZ=Area/City ]<5-field unix cron | @alias>``, evaluated in that zone.

Ticks are wall-clock times in the schedule's zone (UTC without a prefix). Across daylight-saving
changes each matching wall-clock time fires exactly once:

- a time repeated when clocks go back fires at its first occurrence only (never twice);
- a time skipped when clocks go forward fires at the instant the gap ends (e.g. ``30 2 * * *`` in
  Europe/Paris fires at 03:00 CEST on the spring-forward day), merged with any tick already there.

Wall-clock matching is done by ``croniter`` on naive datetimes; the mapping to UTC is ours, so it
does not depend on croniter's own time-zone handling.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from outlast.protocol.durations import DurationError, parse_ms

_TZ_PREFIXES = ("TZ=", "CRON_TZ=")
_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# Far enough in the past that probing a spec for "does it ever fire" covers leap days.
_PROBE_START = datetime(2000, 1, 1)


class CronError(ValueError):
    """An invalid cron spec, time zone or jitter."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron spec. ``source`` is the spec as given, ``expression`` the cron part."""

    source: str
    expression: str
    zone: ZoneInfo

    def next_after(self, ms: int) -> int:
        """The first tick strictly after the unix-ms instant ``ms``, in unix ms (UTC)."""
        return next(self._ticks_after(ms))

    def ticks_between(self, start_ms: int, end_ms: int, limit: int = 1000) -> list[int]:
        """Ticks ``t`` with ``start_ms < t <= end_ms``, oldest first, at most ``limit`` of them."""
        ticks: list[int] = []
        if limit <= 0:
            return ticks
        for tick in self._ticks_after(start_ms):
            if tick > end_ms:
                break
            ticks.append(tick)
            if len(ticks) >= limit:
                break
        return ticks

    def _ticks_after(self, ms: int) -> Iterator[int]:
        # Walk wall-clock candidates from the local time of ``ms``. The wall -> instant mapping
        # (_instant) is non-decreasing, so no candidate before that local time can land after
        # ``ms``; candidates inside a repeated hour may land before it and are skipped.
        local = datetime.fromtimestamp(ms // 1000, UTC).astimezone(self.zone).replace(tzinfo=None)
        wall = croniter(self.expression, local)
        last = ms
        while True:
            instant = _instant(wall.get_next(datetime), self.zone)
            if instant > last:
                last = instant
                yield instant


def parse_cron(spec: str) -> CronSchedule:
    """Parse ``[TZ=Zone |CRON_TZ=Zone ]<cron>``; raise :class:`CronError` with the reason."""
    text = " ".join(spec.split())
    zone = ZoneInfo("UTC")
    for prefix in _TZ_PREFIXES:
        if text.startswith(prefix):
            name, _, text = text[len(prefix) :].partition(" ")
            zone = _zone(name, spec)
            break
    if not text:
        raise CronError(f"cron {spec!r}: missing schedule")
    if text.startswith("@"):
        if text.lower() not in _ALIASES:
            raise CronError(f"cron {spec!r}: unknown alias, expected one of {', '.join(_ALIASES)}")
        text = text.lower()
    elif len(text.split(" ")) != 5:
        raise CronError(
            f"cron {spec!r}: expected 5 fields (minute hour day-of-month month day-of-week)"
        )
    try:
        # Also proves the schedule ever fires: "0 0 30 2 *" is well-formed but never matches.
        croniter(text, _PROBE_START).get_next(datetime)
    except CroniterBadDateError as exc:
        raise CronError(f"cron {spec!r}: never fires") from exc
    except (CroniterError, ValueError, KeyError) as exc:
        raise CronError(f"cron {spec!r}: {exc}") from exc
    return CronSchedule(source=spec, expression=text, zone=zone)


def jitter_ms(spec: str | int | None) -> int:
    """A cron trigger's ``jitter`` (the maximum random delay) in ms; ``None`` means no jitter."""
    if spec is None:
        return 0
    try:
        return parse_ms(spec)
    except DurationError as exc:
        raise CronError(f"invalid jitter {spec!r}: {exc}") from exc


def _zone(name: str, spec: str) -> ZoneInfo:
    if not name:
        raise CronError(f"cron {spec!r}: empty time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CronError(f"cron {spec!r}: unknown time zone {name!r}") from exc


def _instant(wall: datetime, zone: ZoneInfo) -> int:
    """Unix ms of a naive wall-clock time in ``zone``: first occurrence, or the end of a gap."""
    aware = wall.replace(tzinfo=zone)  # fold=0: the earlier of two occurrences
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == wall:
        return int(utc.timestamp()) * 1000
    # ``wall`` does not exist (clocks jumped over it). fold=1 maps it to an instant before the
    # change, fold=0 to one after; the first instant whose local time passes ``wall`` is the
    # change itself. Transitions fall on whole seconds, so search whole seconds.
    lo = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(utc.timestamp())
    lo, hi = min(lo, hi), max(lo, hi)
    while lo < hi:
        mid = (lo + hi) // 2
        local = datetime.fromtimestamp(mid, UTC).astimezone(zone).replace(tzinfo=None)
        if local >= wall:
            hi = mid
        else:
            lo = mid + 1
    return lo * 1000
