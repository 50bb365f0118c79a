"""Group commit of the most common answer (one finished step, the run goes on): answers
that arrive while a commit is in flight are saved together by the next one, in one
transaction (one round trip on PostgreSQL). Under load the batches grow by themselves;
alone, an answer is committed at once."""

from __future__ import annotations

import asyncio
import logging

from outlast.domain import QueueItem
from outlast.store import Store
from outlast.store.rows import StepDone

log = logging.getLogger(__name__)

Saved = tuple[QueueItem, int] | None


class StepsDone:
    """Collects :class:`StepDone` answers and saves them with ``Store.steps_done``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[StepDone, asyncio.Future[Saved]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def save(self, done: StepDone) -> Saved:
        """Save one answer (with whatever else arrives meanwhile); see ``Store.steps_done``."""
        fut: asyncio.Future[Saved] = asyncio.get_running_loop().create_future()
        self._pending.append((done, fut))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="outlast-group-commit")
        return await fut

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results: list[Saved | BaseException] = list(
                        await self.store.steps_done([d for d, _ in batch])
                    )
                except Exception:
                    # One bad answer must not fail the others: save them one by one.
                    log.exception("group commit failed; saving one by one", extra={"n": len(batch)})
                    results = [await self._one(d) for d, _ in batch]
                for (_, fut), result in zip(batch, results, strict=True):
                    if fut.done():
                        continue
                    if isinstance(result, BaseException):
                        fut.set_exception(result)
                    else:
                        fut.set_result(result)
        finally:
            self._flusher = None

    async def _one(self, done: StepDone) -> Saved | BaseException:
        try:
            return (await self.store.steps_done([done]))[0]
        except Exception as exc:
            return exc
