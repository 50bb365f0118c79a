"""Identifiers: step-id hashing and event ULIDs (optionally derived from an id-seed header)."""

from __future__ import annotations

import base64
import hashlib
import os
import time

from ulid import ULID


def hash_step_id(step_id: str) -> str:
    """The hex SHA-1 of a user step id: the key memos are stored under."""
    return hashlib.sha1(step_id.encode()).hexdigest()


class StepIdCounter:
    """Hashes step ids, giving a repeated id a ``:1``, ``:2``, ... suffix before hashing."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def next(self, step_id: str) -> tuple[str, str]:
        """Return (unique id, hash) for the next occurrence of ``step_id``."""
        n = self._seen.get(step_id)
        if n is None:
            self._seen[step_id] = 0
            unique = step_id
        else:
            n += 1
            self._seen[step_id] = n
            unique = f"{step_id}:{n}"
        return unique, hash_step_id(unique)


def new_ulid() -> str:
    return str(ULID())


def ulid_at(ms: int) -> str:
    """A ULID whose time part is ``ms``, with random entropy."""
    return str(ULID.from_bytes(ms.to_bytes(6, "big") + os.urandom(10)))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class SeedError(ValueError):
    """A malformed ``x-inngest-event-id-seed`` header."""


def make_event_id_seed() -> str:
    """Build an id-seed header value: ``"{millis},{base64 of 10 random bytes}"``."""
    return f"{now_ms()},{base64.b64encode(os.urandom(10)).decode()}"


def monotonic_ulids(ms: int, count: int) -> list[str]:
    """``count`` ULIDs at ``ms`` that sort in the order given (the events of one request)."""
    entropy = bytearray(os.urandom(10))
    entropy[6] &= 0x7F  # room for the counter: it never wraps within a request
    seed = f"{ms},{base64.b64encode(bytes(entropy)).decode()}"
    return seeded_ulids(seed, count)


def seeded_ulids(seed: str, count: int) -> list[str]:
    """Deterministic ULIDs for ``count`` events from an id-seed header.

    Bytes 6..10 of the entropy (big-endian uint32) are incremented by the event's
    index, starting at 1, so a retried send yields the same ids.
    """
    try:
        ms_text, b64 = seed.split(",", 1)
        ms = int(ms_text)
        entropy = base64.b64decode(b64, validate=True)
    except ValueError as exc:
        raise SeedError(f"invalid event id seed {seed!r}") from exc
    if len(entropy) != 10 or not 0 <= ms < 2**48:
        raise SeedError(f"invalid event id seed {seed!r}")
    base = int.from_bytes(entropy[6:10], "big")
    out: list[str] = []
    for i in range(count):
        counter = (base + i + 1) % 2**32
        ent = entropy[:6] + counter.to_bytes(4, "big")
        out.append(str(ULID.from_bytes(ms.to_bytes(6, "big") + ent)))
    return out
