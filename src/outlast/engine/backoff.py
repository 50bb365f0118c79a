"""Retry delays: Inngest's backoff table, or a fixed interval for tests and development."""

from __future__ import annotations

import random

#: Attempt (zero-based, the one that just failed) -> base delay in ms.
_TABLE_MS = (
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    1_200_000,
    2_400_000,
    3_600_000,
)
_LAST_MS = 7_200_000
_JITTER_MS = 30_000
MIN_RETRY_AFTER_MS = 1_000
MAX_RETRY_AFTER_MS = 86_400_000


def retry_delay_ms(attempt: int, fixed_ms: int | None = None) -> int:
    """How long to wait before retrying after attempt ``attempt`` failed."""
    if fixed_ms is not None:
        return fixed_ms
    base = _TABLE_MS[attempt] if 0 <= attempt < len(_TABLE_MS) else _LAST_MS
    return base + random.randint(0, _JITTER_MS)


def clamp_retry_after(ms: int) -> int:
    return max(MIN_RETRY_AFTER_MS, min(MAX_RETRY_AFTER_MS, ms))
