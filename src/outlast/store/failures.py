"""Failures of the database (not bugs of ours): what kind each is, and a log that says so
once per interval instead of once per request or queue item while the database is away."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from enum import StrEnum


class StoreFailure(StrEnum):
    """Why the database could not do what was asked, when it is not a bug of ours."""

    #: Unreachable, restarting, out of connections: it may work again in a moment.
    UNAVAILABLE = "unavailable"
    #: Its disk is full: nothing can be written until someone makes room.
    FULL = "full"


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or while handling."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


class FailureLog:
    """Logs a kind of failure at most once per ``interval_s``, with how many it passed
    over since the last line."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def log(self, kind: str, what: str, exc: BaseException) -> bool:
        """Log the failure unless its kind was logged within the interval; True if logged."""
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval_s:
            self._skipped[kind] = self._skipped.get(kind, 0) + 1
            return False
        skipped = self._skipped.pop(kind, 0)
        self._last[kind] = now
        more = f" ({skipped} more since the last report)" if skipped else ""
        self.logger.warning("%s: %s: %r%s", kind, what, exc, more, extra={"failure": kind})
        return True
