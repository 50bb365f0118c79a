"""The engine as the server uses it: events in, apps synced, runs cancelled; the executor
and the function registry kept running in the background."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Any

from outlast.domain import App, EventRecord, FunctionRecord, RunRecord
from outlast.engine import checkpoint, manage
from outlast.engine.caller import DEFAULT_CALL_TIMEOUT_S, Caller
from outlast.engine.config import build_spec
from outlast.engine.executor import Executor
from outlast.engine.group_commit import GroupCommit
from outlast.engine.machine import Machine, Options
from outlast.engine.registry import Registry, sync_registry
from outlast.engine.timers.cron import cron_item
from outlast.protocol import jsonutil
from outlast.protocol.ids import now_ms
from outlast.protocol.ops import ServerKind
from outlast.protocol.registration import RegisterRequest
from outlast.store import Store
from outlast.store.failures import FailureLog

log = logging.getLogger(__name__)

#: How often a process checks whether another one synced functions.
REGISTRY_POLL_S = 2.0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    server_kind: ServerKind = ServerKind.DEV
    signing_key: str | None = None
    retry_interval_ms: int | None = None
    lease_ms: int = 20_000
    max_inflight: int = 256
    #: Calls to one app in flight at once (None: 3/4 of ``max_inflight``).
    max_app_calls: int | None = None
    call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    #: How long a stopping server waits for the calls in flight to finish.
    shutdown_grace_s: float = 10.0


@dataclass(frozen=True, slots=True)
class SyncResult:
    app_id: str
    modified: bool


class Engine:
    """Owns the executor, the registry and the state machine for one server process."""

    def __init__(self, store: Store, config: EngineConfig) -> None:
        self.store = store
        self.config = config
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{id(self):x}"
        self.registry = Registry()
        self.machine = Machine(
            self.registry,
            Options(
                owner=self.owner,
                lease_ms=config.lease_ms,
                retry_interval_ms=config.retry_interval_ms,
            ),
        )
        self.caller = Caller(
            signing_key=config.signing_key,
            server_kind=config.server_kind,
            timeout_s=config.call_timeout_s,
        )
        self.executor = Executor(
            store,
            self.machine,
            self.registry,
            self.caller,
            owner=self.owner,
            lease_ms=config.lease_ms,
            max_inflight=config.max_inflight,
            max_app_calls=config.max_app_calls,
        )
        self._checkpoints: GroupCommit[checkpoint.Checkpoint, int] = GroupCommit(
            functools.partial(checkpoint.apply_batch, store), flushers=store.writers
        )
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.reload()
        await self.executor.start()
        self._poller = asyncio.create_task(self._poll_registry(), name="outlast-registry")

    async def stop(self) -> None:
        """Stop; calls in flight get ``config.shutdown_grace_s`` to finish first."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await self.executor.stop(self.config.shutdown_grace_s)
        await self.caller.close()

    async def reload(self) -> None:
        async with self.store.read() as r:
            version = await r.functions_version()
            records = await r.list_functions()
        self.registry.load(records, version)

    async def refresh(self) -> None:
        """Reload the registry if the functions changed (another process synced or paused)."""
        async with self.store.read() as r:
            await sync_registry(self.registry, r)

    async def _poll_registry(self) -> None:
        failures = FailureLog(log)
        while True:
            await asyncio.sleep(REGISTRY_POLL_S)
            try:
                await self.refresh()
            except Exception as exc:
                kind = self.store.failure(exc)
                if kind is None:
                    log.exception("registry poll failed")
                else:
                    failures.log(f"store {kind.value}", "registry poll", exc)

    # -- events -----------------------------------------------------------------------------

    async def ingest(self, records: list[EventRecord]) -> list[RunRecord]:
        """Commit events and everything they start; durable when this returns."""
        if not records:
            return []
        async with self.store.tx() as s:
            if self.store.shared:
                # Another process may have synced (or paused) functions within the last poll
                # interval: events must not miss a function this process has not seen yet.
                await sync_registry(self.registry, s)
            runs = await self.machine.ingest(s, records, now_ms())
        self.executor.wake_for(s)
        return runs

    async def cancel_run(self, run_id: str, reason: str = "cancelled via the API") -> bool:
        async with self.store.tx() as s:
            done = await self.machine.cancel(s, run_id, now_ms(), reason=reason)
        self.executor.wake_for(s)
        return done

    async def checkpoint(self, run_id: str, body: Any) -> int:
        """Save the steps an SDK checkpointed during a call (see ``engine.checkpoint``)."""
        return await self._checkpoints.save(checkpoint.Checkpoint(run_id, body, now_ms()))

    # -- run management (engine.manage) ------------------------------------------------------

    async def set_paused(self, function_id: str, paused: bool) -> FunctionRecord:
        """Pause or resume a function, for every process (they reload their registries)."""
        async with self.store.tx() as s:
            record = await manage.set_paused(s, function_id, paused, now_ms())
        await self.reload()
        return record

    async def invoke(self, function_id: str, data: dict[str, Any], max_bytes: int) -> RunRecord:
        """Start a run of the function now with ``data`` (see ``manage.invoke``)."""
        await self.refresh()
        async with self.store.tx() as s:
            run = await manage.invoke(s, self.machine, function_id, data, now_ms(), max_bytes)
        self.executor.wake_for(s)
        return run

    async def replay_event(self, event_id: str) -> list[RunRecord]:
        await self.refresh()
        async with self.store.tx() as s:
            runs = await manage.replay_event(s, self.machine, event_id, now_ms())
        self.executor.wake_for(s)
        return runs

    async def replay_function(
        self, function_id: str, since: int, until: int, limit: int = manage.MAX_REPLAY
    ) -> tuple[list[RunRecord], bool]:
        """Start runs for the function's events in ``[since, until)`` that started none, a
        page per transaction; (runs, whether ``limit`` stopped the replay)."""
        await self.refresh()
        manage.check_replayable(self.machine, function_id)
        runs: list[RunRecord] = []
        cursor: tuple[int, str] | None = (since, "")
        while cursor is not None and len(runs) < limit:
            async with self.store.tx() as s:
                page = await manage.replay_page(
                    s,
                    self.machine,
                    function_id,
                    since=since,
                    until=until,
                    cursor=cursor,
                    budget=limit - len(runs),
                    now=now_ms(),
                )
            self.executor.wake_for(s)
            runs += page.runs
            cursor = page.cursor
        return runs, len(runs) >= limit

    async def rerun(self, run_id: str, from_step: str | None = None) -> manage.Rerun:
        await self.refresh()
        async with self.store.tx() as s:
            result = await manage.rerun(s, self.machine, run_id, from_step, now_ms())
        self.executor.wake_for(s)
        return result

    # -- sync -------------------------------------------------------------------------------

    async def sync(self, req: RegisterRequest, raw_functions: list[dict[str, Any]]) -> SyncResult:
        """Store an app's functions (validated by the caller) and plan their cron ticks."""
        app_id = req.app_name
        specs = [build_spec(app_id, fn) for fn in req.functions]
        checksum = hashlib.sha256(jsonutil.dumps([req.url, raw_functions])).hexdigest()
        now = now_ms()
        async with self.store.tx() as s:
            before = await s.get_app(app_id)
            app = App(
                id=app_id,
                url=req.url,
                sdk=req.sdk,
                framework=req.framework,
                checksum=checksum,
                synced_at=now,
            )
            records = [
                FunctionRecord(id=spec.id, app_id=app_id, name=spec.name, config=raw)
                for spec, raw in zip(specs, raw_functions, strict=True)
            ]
            await s.put_app(app, records, now)
            items = [
                cron_item(spec.id, c.source, c.schedule.next_after(now))
                for spec in specs
                for c in spec.crons
            ]
            await s.enqueue(items)
        await self.reload()
        self.executor.wake()
        return SyncResult(app_id=app_id, modified=before is None or before.checksum != checksum)

    async def remove_app(self, app_id: str) -> bool:
        async with self.store.tx() as s:
            removed = await s.delete_app(app_id)
        await self.reload()
        return removed
