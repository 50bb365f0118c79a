"""Queue items that are not calls to an app: timers, one module each, in one table.

Each handler runs in a transaction the executor opened, with the item leased to this
process; it deletes or moves the item itself. Adding a kind of timer: a module with a
``fire`` function, an entry here, a payload in ``engine.payloads``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from outlast.domain import QueueItem, QueueKind
from outlast.engine.lifecycle import Lifecycle
from outlast.engine.timers import batch, cron, debounce, resume, timeout
from outlast.store import Session

TimerHandler = Callable[[Lifecycle, Session, QueueItem, int], Awaitable[None]]

HANDLERS: dict[QueueKind, TimerHandler] = {
    QueueKind.RESUME: resume.fire,
    QueueKind.CRON: cron.fire,
    QueueKind.TIMEOUT: timeout.fire,
    QueueKind.BATCH: batch.fire,
    QueueKind.DEBOUNCE: debounce.fire,
}
