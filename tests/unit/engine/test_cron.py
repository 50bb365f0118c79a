"""Cron schedules: next ticks, time zones across daylight-saving changes, invalid specs."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from outlast.engine.cron import CronError, jitter_ms, parse_cron

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return ms(datetime(year, month, day, hour, minute, tzinfo=UTC))


def local(tick: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(tick / 1000, zone).isoformat()


def test_next_tick_is_strictly_after() -> None:
    schedule = parse_cron("0 12 * * *")
    assert schedule.next_after(utc_ms(2024, 1, 1, 11, 59)) == utc_ms(2024, 1, 1, 12, 0)
    assert schedule.next_after(utc_ms(2024, 1, 1, 12, 0)) == utc_ms(2024, 1, 2, 12, 0)
    assert schedule.next_after(utc_ms(2024, 1, 1, 12, 0) - 1) == utc_ms(2024, 1, 1, 12, 0)
    assert schedule.next_after(utc_ms(2024, 1, 1, 12, 0) + 1) == utc_ms(2024, 1, 2, 12, 0)


def test_aliases() -> None:
    assert parse_cron("@hourly").next_after(utc_ms(2024, 1, 1, 0, 30)) == utc_ms(2024, 1, 1, 1)
    assert parse_cron("@daily").next_after(utc_ms(2024, 1, 1, 0, 30)) == utc_ms(2024, 1, 2)


def test_tz_prefix_fires_at_local_time() -> None:
    # Fridays at noon in New York: 17:00 UTC in winter, 16:00 UTC after the March change.
    schedule = parse_cron("TZ=America/New_York 0 12 * * 5")
    ticks = schedule.ticks_between(utc_ms(2024, 3, 1), utc_ms(2024, 3, 16), limit=10)
    assert ticks == [utc_ms(2024, 3, 1, 17), utc_ms(2024, 3, 8, 17), utc_ms(2024, 3, 15, 16)]


def test_cron_tz_prefix_is_accepted() -> None:
    schedule = parse_cron("CRON_TZ=Europe/Paris 0 9 * * *")
    assert schedule.next_after(utc_ms(2024, 7, 1)) == utc_ms(2024, 7, 1, 7)  # CEST = UTC+2


def test_time_skipped_by_spring_forward_fires_once_when_the_gap_ends() -> None:
    # Paris, 31 March 2024: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    schedule = parse_cron("TZ=Europe/Paris 30 2 * * *")
    start = ms(datetime(2024, 3, 30, 12, tzinfo=PARIS))
    ticks = [local(t, PARIS) for t in schedule.ticks_between(start, start + 3 * 86_400_000, 5)]
    assert ticks == [
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
        "2024-04-02T02:30:00+02:00",
    ]


def test_hourly_ticks_merge_across_the_spring_gap() -> None:
    schedule = parse_cron("TZ=Europe/Paris 0 * * * *")
    start = ms(datetime(2024, 3, 31, 0, 30, tzinfo=PARIS))
    ticks = [local(t, PARIS) for t in schedule.ticks_between(start, start + 3 * 3_600_000, 10)]
    assert ticks == [
        "2024-03-31T01:00:00+01:00",
        "2024-03-31T03:00:00+02:00",
        "2024-03-31T04:00:00+02:00",
    ]


def test_time_repeated_by_fall_back_fires_once() -> None:
    # Paris, 27 October 2024: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    schedule = parse_cron("TZ=Europe/Paris 30 2 * * *")
    start = ms(datetime(2024, 10, 26, 12, tzinfo=PARIS))
    ticks = [local(t, PARIS) for t in schedule.ticks_between(start, start + 2 * 86_400_000, 5)]
    assert ticks == ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"]


def test_next_after_inside_the_repeated_hour_does_not_fire_again() -> None:
    schedule = parse_cron("TZ=Europe/Paris */20 * * * *")
    first = ms(datetime(2024, 10, 27, 2, 10, tzinfo=PARIS))
    second = ms(datetime(2024, 10, 27, 2, 10, fold=1, tzinfo=PARIS))
    assert second - first == 3_600_000
    assert local(schedule.next_after(first), PARIS) == "2024-10-27T02:20:00+02:00"
    assert local(schedule.next_after(second), PARIS) == "2024-10-27T03:00:00+01:00"


def test_ticks_between_bounds_and_limit() -> None:
    schedule = parse_cron("*/15 * * * *")
    start = utc_ms(2024, 1, 1)
    assert schedule.ticks_between(start, start + 3_600_000, limit=100) == [
        start + n * 900_000 for n in (1, 2, 3, 4)
    ]
    assert len(schedule.ticks_between(start, start + 86_400_000, limit=3)) == 3
    assert schedule.ticks_between(start, start + 60_000, limit=10) == []
    assert schedule.ticks_between(start, start + 3_600_000, limit=0) == []


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("TZ=Mars/Olympus 0 * * * *", "unknown time zone 'Mars/Olympus'"),
        ("TZ=../etc/passwd 0 * * * *", "unknown time zone"),
        ("TZ= 0 * * * *", "empty time zone"),
        ("TZ=UTC", "missing schedule"),
        ("", "missing schedule"),
        ("* * * * * *", "expected 5 fields"),
        ("0 12 *", "expected 5 fields"),
        ("61 * * * *", "61"),
        ("a b c d e", "not acceptable"),
        ("0 0 30 2 *", "never fires"),
        ("@reboot", "unknown alias"),
    ],
)
def test_invalid_specs_are_refused(spec: str, reason: str) -> None:
    with pytest.raises(CronError, match="cron") as info:
        parse_cron(spec)
    assert reason in str(info.value)


def test_leap_day_schedule_is_valid() -> None:
    schedule = parse_cron("0 0 29 2 *")
    assert schedule.next_after(utc_ms(2025, 1, 1)) == utc_ms(2028, 2, 29)


@pytest.mark.parametrize(
    ("spec", "expected"), [(None, 0), ("30s", 30_000), ("1m", 60_000), (500, 500)]
)
def test_jitter(spec: str | int | None, expected: int) -> None:
    assert jitter_ms(spec) == expected


def test_invalid_jitter() -> None:
    with pytest.raises(CronError, match="jitter"):
        jitter_ms("soon")
