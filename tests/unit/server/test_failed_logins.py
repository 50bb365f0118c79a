"""Failed dashboard logins are limited per client address and overall; the limits drain
with time; many addresses cannot fill the memory."""

from __future__ import annotations

from outlast.server.dashboard.failed_logins import OVERALL, PER_ADDRESS, WINDOW_S, FailedLogins


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_gets_a_burst_then_one_try_per_interval() -> None:
    clock = Clock()
    limits = FailedLogins(per_address=10, overall=100, window_s=60, clock=clock)
    for _ in range(10):
        assert limits.retry_after("1.2.3.4") == 0
        limits.failed("1.2.3.4")
    assert limits.retry_after("1.2.3.4") == 6  # one more every 60 s / 10
    assert limits.retry_after("5.6.7.8") == 0  # another address is not held back
    clock.now += 5.5
    assert limits.retry_after("1.2.3.4") == 1
    clock.now += 0.5
    assert limits.retry_after("1.2.3.4") == 0
    limits.failed("1.2.3.4")
    assert limits.retry_after("1.2.3.4") == 6
    clock.now += 60
    assert limits.retry_after("1.2.3.4") == 0


def test_many_addresses_together_hit_the_overall_limit() -> None:
    clock = Clock()
    limits = FailedLogins(per_address=10, overall=20, window_s=60, clock=clock)
    for i in range(20):
        assert limits.retry_after(f"10.0.0.{i}") == 0
        limits.failed(f"10.0.0.{i}")
    assert limits.retry_after("10.0.1.1") == 3  # a fresh address waits for the overall one
    clock.now += 3
    assert limits.retry_after("10.0.1.1") == 0


def test_the_default_limits_leave_a_person_room() -> None:
    limits = FailedLogins()
    for _ in range(5):  # a few typos
        limits.failed("127.0.0.1")
    assert limits.retry_after("127.0.0.1") == 0
    assert PER_ADDRESS <= OVERALL and WINDOW_S == 60


def test_the_addresses_remembered_are_bounded() -> None:
    clock = Clock()
    limits = FailedLogins(per_address=1, overall=10_000, window_s=60, max_addresses=3, clock=clock)
    for address in ("a", "b", "c", "a", "d"):
        limits.failed(address)
    assert len(limits._by_address) == 3
    assert limits.retry_after("b") == 0  # forgotten: it failed least recently
    assert limits.retry_after("a") > 0 and limits.retry_after("d") > 0
