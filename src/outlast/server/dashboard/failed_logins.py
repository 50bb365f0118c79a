"""Brute-force protection of the dashboard's login: failed logins are counted per client
address and over all addresses, each in a leaky bucket (a burst of ``limit`` failures,
then one more every ``window / limit`` seconds). Past either limit the login answers 429
with Retry-After without looking at the key, so guessing stops at the limit's pace
whatever the guesser's speed. Successful logins are not counted.

The counts live in the server process's memory, not in the store. That is enough for what
they are for: the keys are long random strings (the dashboard key has 16 characters or
more, the signing key 32 bytes), which no guesser finds at a hundred tries a minute, nor
at a few hundred with several server processes each counting their own, nor across
restarts that start the counts afresh. A store-backed count would cost a write per failed
login, and the failures are what an attacker controls.

The overall limit is there for a guesser with many addresses; its price is that while
someone keeps failing at that pace, a person typing the right key is answered 429 too (the
REST API still takes the key as a Bearer token). The limits are far above what a person
typing keys reaches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Failed logins one client address may make in a burst, and per ``WINDOW_S`` after it.
PER_ADDRESS = 10
#: Failed logins all addresses together may make in a burst, and per ``WINDOW_S`` after it.
OVERALL = 100
WINDOW_S = 60.0
#: Addresses whose failures are remembered: past it the one that failed least recently is
#: forgotten (its bucket has drained the most), so many addresses cannot fill the memory;
#: the overall limit still holds for them.
MAX_ADDRESSES = 10_000


@dataclass(slots=True)
class _Bucket:
    #: Failures not yet drained, as of ``at`` (monotonic seconds).
    level: float
    at: float


class Bucket:
    """A leaky bucket of failures: ``limit`` fit, and it drains ``limit`` per ``window_s``."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.rate = limit / window_s

    def level(self, bucket: _Bucket, now: float) -> float:
        return max(0.0, bucket.level - (now - bucket.at) * self.rate)

    def wait(self, bucket: _Bucket | None, now: float) -> float:
        """Seconds until one more failure fits (0: it fits now)."""
        if bucket is None:
            return 0.0
        over = self.level(bucket, now) - (self.limit - 1)
        return max(0.0, over / self.rate)

    def add(self, bucket: _Bucket | None, now: float) -> _Bucket:
        level = 0.0 if bucket is None else self.level(bucket, now)
        return _Bucket(level + 1, now)


class FailedLogins:
    """The failed logins of one server process, per address and overall."""

    def __init__(
        self,
        per_address: int = PER_ADDRESS,
        overall: int = OVERALL,
        window_s: float = WINDOW_S,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._address_bucket = Bucket(per_address, window_s)
        self._overall_bucket = Bucket(overall, window_s)
        self._max_addresses = max_addresses
        self._clock = clock
        #: In the order of their last failure, the oldest first.
        self._by_address: dict[str, _Bucket] = {}
        self._overall: _Bucket | None = None

    def retry_after(self, address: str) -> int:
        """Whole seconds before a login from ``address`` may be tried (0: now)."""
        now = self._clock()
        wait = max(
            self._address_bucket.wait(self._by_address.get(address), now),
            self._overall_bucket.wait(self._overall, now),
        )
        return math.ceil(wait)

    def failed(self, address: str) -> None:
        """Count a failed login from ``address``."""
        now = self._clock()
        self._overall = self._overall_bucket.add(self._overall, now)
        bucket = self._address_bucket.add(self._by_address.pop(address, None), now)
        self._by_address[address] = bucket  # last: the most recent failure
        while len(self._by_address) > self._max_addresses:
            del self._by_address[next(iter(self._by_address))]
