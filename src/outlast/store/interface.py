"""The Store interface: a database Outlast keeps its state in."""

from __future__ import annotations

import abc
import errno
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from outlast.domain import QueueItem
from outlast.store import fast_paths
from outlast.store.dialect import Dialect
from outlast.store.failures import StoreFailure, causes
from outlast.store.rows import CheckpointStep, StepDone
from outlast.store.session import Session


class Store(abc.ABC):
    """A database Outlast keeps its state in."""

    #: "sqlite" or "postgres": its ``dialect.name``.
    kind: str
    #: How its SQL differs from the other database's.
    dialect: Dialect
    #: Whether other server processes may change it (functions synced or paused elsewhere).
    shared: bool = False
    #: How many transactions are worth running at once (group commits in flight): one for
    #: an embedded database with one writer; several where each statement is a round trip.
    writers: int = 1

    @abc.abstractmethod
    async def open(self, *, readonly: bool = False) -> None:
        """Connect and apply pending migrations; ``readonly``: connect only, to look (a
        tool beside a running server must change nothing)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    def failure(self, exc: BaseException) -> StoreFailure | None:
        """What ``exc`` says of the database, if it is a failure of the database (not a bug):
        the server answers 503 or 507 for those, and the executor tries the work again."""
        for e in causes(exc):
            if isinstance(e, OSError) and e.errno == errno.ENOSPC:
                return StoreFailure.FULL
            if isinstance(e, ConnectionError | TimeoutError):
                return StoreFailure.UNAVAILABLE
        return None

    @abc.abstractmethod
    def tx(self) -> AbstractAsyncContextManager[Session]:
        """A session in a transaction: commits on exit, rolls back on error."""

    @abc.abstractmethod
    def read(self) -> AbstractAsyncContextManager[Session]:
        """A session for reads outside a transaction."""

    @abc.abstractmethod
    async def lease(self, owner: str, now: int, limit: int, lease_ms: int) -> list[QueueItem]:
        """Take up to ``limit`` ready queue items for ``lease_ms``, oldest first."""

    async def steps_done(self, batch: Sequence[StepDone]) -> list[tuple[QueueItem, int] | None]:
        """For each answer: save the finished step and turn the call's item into the run's
        next discovery call, leased to ``d.owner`` (what ``Machine.apply`` does for this
        answer). All in one transaction: a group commit of the answers that arrived
        together. Each result is the item and the run's stack length after it, or None
        (nothing written for it) when the run is not running: the caller then takes the
        general path for that one."""
        async with self.tx() as s:
            return [await fast_paths.step_done(s, d) for d in batch]

    async def save_checkpoints(self, batch: Sequence[CheckpointStep]) -> list[str]:
        """Save checkpointed steps, all in one transaction; runs are locked in id order so
        two batches cannot deadlock. For each: "saved" (also when the step was already
        done), or why nothing was written for it: "no_run", "not_running:<status>",
        "stale_call" (its call is no longer the run's current one)."""
        out = [""] * len(batch)
        async with self.tx() as s:
            for i in sorted(range(len(batch)), key=lambda i: batch[i].run_id):
                out[i] = await fast_paths.save_checkpoint(s, batch[i])
        return out

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
