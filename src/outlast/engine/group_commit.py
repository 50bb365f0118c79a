"""Group commit: requests to save that arrive while a commit is in flight are saved
together by the next one, in one transaction (one round trip on PostgreSQL, one fsync on
SQLite). Under load the batches grow by themselves; alone, a request is committed at once.

Three kinds go through it: the most common answer of a call (one finished step, the run
goes on: ``Store.steps_done``), the steps an SDK checkpoints during a call
(``engine.checkpoint.apply_batch``), and any other work of the executor on one run (starting
it, acting on an answer, a timer firing: :func:`transactions`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from outlast.domain import QueueItem
from outlast.store import Session, Store
from outlast.store.rows import StepDone

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")

Saved = tuple[QueueItem, int] | None


class GroupCommit(Generic[In, Out]):
    """Collects requests and saves them with ``commit``, a batch at a time.

    ``commit`` returns one result per request, in order: a value, or an exception that
    fails that request alone. If it raises, the batch is saved again one by one, so one bad
    request fails only itself.
    """

    def __init__(
        self,
        commit: Callable[[Sequence[In]], Awaitable[Sequence[Out | BaseException]]],
        *,
        flushers: int = 1,
    ) -> None:
        self._commit = commit
        #: Batches committed at once: on PostgreSQL a commit is mostly round trips, and a
        #: few transactions side by side use the database's cores.
        self._max_flushers = flushers
        self._flushers: set[asyncio.Task[None]] = set()
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []

    async def save(self, request: In) -> Out:
        """Save one request (with whatever else arrives meanwhile)."""
        fut: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._pending.append((request, fut))
        if len(self._flushers) < self._max_flushers:
            task = asyncio.create_task(self._flush(), name="outlast-group-commit")
            self._flushers.add(task)
            task.add_done_callback(self._flushers.discard)
        return await fut

    async def _flush(self) -> None:
        try:
            await self._drain()
        finally:
            # Left synchronously after the last look at _pending (no await in between), so
            # a request arriving now starts a new flusher instead of waiting for none.
            task = asyncio.current_task()
            if task is not None:
                self._flushers.discard(task)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = list(await self._commit([d for d, _ in batch]))
            except Exception:
                # Each request then fails (or succeeds) alone, and its caller reports it.
                log.debug("group commit failed; saving one by one", extra={"n": len(batch)})
                results = [await self._one(d) for d, _ in batch]
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)

    async def _one(self, request: In) -> Out | BaseException:
        try:
            return (await self._commit([request]))[0]
        except Exception as exc:
            return exc


def steps_done(store: Store) -> GroupCommit[StepDone, Saved]:
    """Group commit of one-step answers; see ``Store.steps_done``."""
    return GroupCommit(store.steps_done, flushers=store.writers)


@dataclass(frozen=True, slots=True)
class Work:
    """Work on one run inside a transaction. ``key`` (the run id) orders a batch, so that
    two batches lock runs in the same order. ``fn`` may run twice (a failed batch is done
    again one by one): it must do everything inside the session it is given."""

    key: str
    fn: Callable[[Session], Awaitable[Any]]


def transactions(
    tx: Callable[[], AbstractAsyncContextManager[Session]], *, flushers: int = 1
) -> GroupCommit[Work, Any]:
    """Group commit of any work: a batch runs in one transaction from ``tx()``, in key
    order. Each result is what its ``fn`` returned."""

    async def commit(batch: Sequence[Work]) -> list[Any]:
        out: list[Any] = [None] * len(batch)
        async with tx() as s:
            for i in sorted(range(len(batch)), key=lambda i: batch[i].key):
                out[i] = await batch[i].fn(s)
        return out

    return GroupCommit(commit, flushers=flushers)
