"""The executor: leases ready queue items and carries them out.

Nothing waits in memory: a sleeping run is a queue item due later. The loop sleeps until
the earliest due item (or a wake-up from new work in this process), leases a batch, and
runs each item in its own task. Leases are extended while calls are in flight, so a
process that dies leaves its items to be picked up again when the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from outlast.domain import CALL_KINDS, QueueItem, QueueKind, RunRecord, RunStatus
from outlast.engine import checkpoint, errors, group_commit, timers
from outlast.engine.caller import Caller, CallResult, Ops
from outlast.engine.checkpoint import CHECKPOINT_OPS
from outlast.engine.config import FunctionSpec
from outlast.engine.gateway import GatewayRequest
from outlast.engine.machine import Machine
from outlast.engine.registry import Registry, sync_registry
from outlast.protocol import jsonutil
from outlast.protocol.ids import now_ms
from outlast.protocol.op import Op
from outlast.protocol.ops import (
    DISCOVERY_STEP_ID,
    MAX_REQUEST_STATE_BYTES,
    MAX_RUN_STATE_BYTES,
    MAX_STEP_OUTPUT_BYTES,
    REQUEST_VERSION,
)
from outlast.store import Session, Store
from outlast.store.failures import FailureLog
from outlast.store.rows import StepDone

log = logging.getLogger(__name__)

#: The longest the loop sleeps before looking at the store again (other processes may
#: have added work it was not told about).
MAX_IDLE_MS = 1000
#: How long an item whose work failed on this side (the store was unreachable, say) waits
#: before it is due again, for any worker.
RELEASE_DELAY_MS = 1000
#: How often a process sharing its store says it is alive.
BEAT_MS = 1000
#: A process not heard from for this long is taken for dead: the others free its items.
DEAD_AFTER_MS = 4000
#: How long a call waits for room when its app has its share of the slots busy, before it
#: goes back to the queue.
APP_WAIT_S = 0.25
#: How long a call waits in the queue when its app has its share of the slots busy.
APP_BUSY_DELAY_MS = 500


def step_url(url: str, step_id: str) -> str:
    """The function's runtime URL with ``stepId`` set."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "stepId"]
    query.append(("stepId", step_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


class StateTooLarge(Exception):
    """The run's state is over :data:`MAX_RUN_STATE_BYTES`: the run cannot go on."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the run's state (its events and step outputs) is {size} bytes; "
            f"the limit is {MAX_RUN_STATE_BYTES}"
        )


def request_body(
    run: RunRecord, spec: FunctionSpec, memos: dict[str, Any], item: QueueItem, step_id: str
) -> dict[str, Any]:
    """The execution request the SDKs expect (protocol.md §3).

    Run state over :data:`MAX_REQUEST_STATE_BYTES` is left out (``use_api``): the SDK
    fetches it from ``/v0/runs/{id}/batch`` and ``/actions``. The state has to be encoded
    to know its size; it goes into the body as pre-encoded orjson fragments, so encoding
    the body does not encode it a second time. Raises :class:`StateTooLarge` past
    :data:`MAX_RUN_STATE_BYTES` (a step may take it over the limit: the next call fails).
    """
    events = run.events
    encoded_events = jsonutil.dumps(events)
    encoded_memos = jsonutil.dumps(memos)
    size = len(encoded_events) + len(encoded_memos)
    if size > MAX_RUN_STATE_BYTES:
        raise StateTooLarge(size)
    use_api = size > MAX_REQUEST_STATE_BYTES
    if use_api:
        log.debug("run state sent through the API", extra={"run_id": run.id, "bytes": size})
    return {
        # Kept even with use_api, as Inngest does: the SDKs require it (inngest-py
        # validates ``event`` as a mandatory field), and one event is small.
        "event": events[0] if events else {},
        "events": [] if use_api else orjson.Fragment(encoded_events),
        "steps": {} if use_api else orjson.Fragment(encoded_memos),
        "ctx": {
            "run_id": run.id,
            # With fn_id (and qi_id, this call's id), the JS SDK v4 checkpoints the steps
            # it runs in a row instead of answering after each (engine/checkpoint.py).
            "fn_id": spec.id,
            "qi_id": checkpoint.call_id(item.id, item.attempt),
            "env": "default",
            "step_id": step_id,
            "attempt": item.attempt,
            "max_attempts": spec.retries + 1,
            "stack": {"stack": run.stack, "current": len(run.stack)},
            "disable_immediate_execution": item.kind is QueueKind.STEP,
            "use_api": use_api,
        },
        "version": REQUEST_VERSION,
        "use_api": use_api,
    }


@dataclass(frozen=True, slots=True)
class RunState:
    """A run and its memos as this process last saved them."""

    run: RunRecord
    memos: dict[str, Any]


def one_step_done(item: QueueItem, run: RunRecord, result: CallResult) -> tuple[Op, str] | None:
    """The op and its encoded memo when a discovery call of a running run came back with
    exactly one finished step (output within the limit): the answer ``Store.steps_done``
    saves in one go. Anything else goes through ``Machine.apply``."""
    if item.kind is not QueueKind.DISCOVER or run.status is not RunStatus.RUNNING:
        return None
    if not isinstance(result, Ops) or len(result.ops) != 1:
        return None
    op = result.ops[0]
    if op.op not in CHECKPOINT_OPS or not op.id or op.id in run.stack:
        # A step that finished already goes through the general path, which counts an
        # answer that changes nothing as a failed attempt.
        return None
    data = jsonutil.dumps(op.output)
    if len(data) > MAX_STEP_OUTPUT_BYTES:
        return None
    return op, (b'{"data":' + data + b"}").decode()


class Executor:
    """Runs queue items: calls to apps, timers, cron ticks."""

    def __init__(
        self,
        store: Store,
        machine: Machine,
        registry: Registry,
        caller: Caller,
        *,
        owner: str,
        lease_ms: int,
        max_inflight: int = 256,
        max_app_calls: int | None = None,
    ) -> None:
        self.store = store
        self.machine = machine
        self.registry = registry
        self.caller = caller
        self.owner = owner
        self.lease_ms = lease_ms
        self.max_inflight = max_inflight
        #: The slots apps may hold between them; the others stay free for an app that has
        #: no call in flight, however slow or hanging the busy ones are.
        self.max_app_calls = max_app_calls or max(1, max_inflight * 3 // 4)
        #: Calls in flight per app (apps with none are not kept).
        self._app_calls: Counter[str] = Counter()
        #: Set (and replaced) each time an app's call ends: wakes the calls waiting for room.
        self._slot_freed = asyncio.Event()
        #: Tasks waiting for room in their app's share.
        self._waiting = 0
        self._store_failures = FailureLog(log)
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        #: The leased items a task of this process is working on: the heartbeat extends
        #: these leases, and only these.
        self._working: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._steps_done = group_commit.steps_done(store)
        #: Work on a run (start, answer, timer) that arrives together commits together.
        self._batched = group_commit.transactions(self._tx, flushers=store.writers)

    def wake(self) -> None:
        """New work may be ready now."""
        self._wake.set()

    def wake_for(self, s: Session) -> None:
        """Wake the loop if the session queued work due before the loop looks again anyway
        (work a call goes on with itself needs no wake-up: that would cost a lease)."""
        due = s.first_queued_due
        if due is not None and due < now_ms() + MAX_IDLE_MS:
            self._wake.set()

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Session]:
        async with self.store.tx() as s:
            yield s
        self.wake_for(s)

    async def start(self) -> None:
        if self.store.shared:
            # Alive before it leases anything: its items can be taken over from the start.
            async with self.store.tx() as s:
                await s.beat(self.owner, now_ms())
        self._tasks = [
            asyncio.create_task(self._loop(), name="outlast-executor"),
            asyncio.create_task(self._heartbeat(), name="outlast-heartbeat"),
        ]

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop leasing; let the work in flight finish for up to ``grace_s`` seconds (a run
        that could go on at once is handed back to the queue instead); then cancel what is
        left and release its items, so another process takes them at once rather than when
        their leases run out."""
        self._stopping = True
        self._wake.set()
        loop, heartbeat = self._tasks if self._tasks else (None, None)
        if loop is not None:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        if self._inflight and grace_s > 0:
            log.info("draining: waiting for calls in flight", extra={"n": len(self._inflight)})
            await asyncio.wait(list(self._inflight), timeout=grace_s)
        left = list(self._inflight)
        # Taken before the tasks are cancelled: each forgets its item as it ends.
        unfinished = sorted(self._working)
        for t in left:
            t.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        if heartbeat is not None:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        if unfinished:
            log.info("releasing unfinished work", extra={"n": len(unfinished)})
            await self._release_all(unfinished)
        if self.store.shared:
            with contextlib.suppress(Exception):
                async with self.store.tx() as s:
                    await s.leave(self.owner)

    def _failed(self, what: str, exc: BaseException) -> None:
        """Log a failure: a bug with its traceback, the store's failure (the database is
        away) one line per kind and interval, however many items it fails."""
        kind = self.store.failure(exc)
        if kind is None:
            log.error("%s failed", what, exc_info=exc)
        else:
            self._store_failures.log(f"store {kind.value}", what, exc)

    async def _release_all(self, item_ids: list[int]) -> None:
        try:
            async with self.store.tx() as s:
                for item_id in item_ids:
                    await s.release_item(item_id, self.owner, now_ms())
        except Exception as exc:
            log.warning("could not release work at shutdown (its leases run out): %r", exc)

    async def _heartbeat(self) -> None:
        """Extends the leases of the work in progress (every third of a lease); where other
        processes share the store, also says this one is alive and takes over the items of
        any that stopped saying so (every second)."""
        shared = self.store.shared
        extend_every_ms = self.lease_ms // 3
        last_extend = now_ms()
        while True:
            await asyncio.sleep(BEAT_MS / 1000 if shared else extend_every_ms / 1000)
            now = now_ms()
            extend = now - last_extend >= extend_every_ms and bool(self._working)
            if not shared and not extend:
                continue
            try:
                async with self.store.tx() as s:
                    if shared:
                        await s.beat(self.owner, now)
                        dead = await s.take_over(now, DEAD_AFTER_MS)
                        if dead:
                            log.warning("took over the work of stopped processes: %s", dead)
                            self._wake.set()
                    if extend:
                        working = list(self._working)
                        await s.extend_leases(self.owner, now + self.lease_ms, working)
                        last_extend = now
            except Exception as exc:
                self._failed("heartbeat", exc)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed("leasing work", exc)
                await asyncio.sleep(0.5)

    def _free(self) -> int:
        """Slots for new work. Calls waiting for room in their app's share hold none: the
        work of other apps is leased meanwhile (up to as many waiting calls as slots)."""
        busy = len(self._inflight) - self._waiting
        return min(self.max_inflight - busy, 2 * self.max_inflight - len(self._inflight))

    async def _tick(self) -> None:
        free = self._free()
        items: list[QueueItem] = []
        if free > 0:
            self._wake.clear()
            items = await self.store.lease(self.owner, now_ms(), min(free, 100), self.lease_ms)
            for item in items:
                self._working.add(item.id)
                task = asyncio.create_task(self._run(item))
                self._inflight.add(task)
                task.add_done_callback(self._done)
        if items and len(items) == min(free, 100):
            await asyncio.sleep(0)  # more may be ready: go round again at once
            return
        await self._idle(free > 0)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._free() == 1:
            self._wake.set()  # a slot freed up after the loop found none

    async def _idle(self, has_room: bool) -> None:
        timeout = MAX_IDLE_MS
        if has_room:
            async with self.store.read() as r:
                due = await r.next_due_at(now_ms())
            if due is not None:
                timeout = max(0, min(timeout, due - now_ms()))
        if timeout > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout / 1000)

    async def _run(self, item: QueueItem) -> None:
        limited = item.ckey is not None
        current: QueueItem | None = item
        try:
            known: RunState | None = None
            while current is not None:
                if current.kind in CALL_KINDS:
                    nxt, known = await self._call(current, known)
                elif current.kind is QueueKind.GATEWAY:
                    await self._gateway(current)
                    nxt = None
                else:
                    nxt = await self._one(current)
                self._working.discard(current.id)
                if nxt is not None:
                    self._working.add(nxt.id)
                current = nxt
                if current is not None and self._stopping:
                    # Draining: the run goes on in whichever process leases it next.
                    await self._release(current, 0)
                    self._working.discard(current.id)
                    current = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed("running a queue item", exc)
            if current is not None:
                await self._release(current)
        finally:
            if current is not None:
                self._working.discard(current.id)
        if limited:
            self._wake.set()  # a concurrency slot is free: a call waiting for it may go

    async def _release(self, item: QueueItem, delay_ms: int = RELEASE_DELAY_MS) -> None:
        """The item's work failed on this side (not the app's answer: that is an attempt),
        or could not start: due again in ``delay_ms``, for any worker. If even that cannot
        be saved, the heartbeat no longer extends its lease, which runs out."""
        try:
            async with self.store.tx() as s:
                await s.release_item(item.id, self.owner, now_ms() + delay_ms)
        except Exception as exc:
            self._failed("releasing a queue item (its lease will run out)", exc)

    async def _gateway(self, item: QueueItem) -> None:
        """Send the request a step needs (``step.ai.infer``) and save its answer."""
        started = now_ms()
        answer = await self.caller.fetch(GatewayRequest.decode(item.payload or {}))
        await self._batched.save(
            group_commit.Work(
                item.run_id or "",
                lambda s: self.machine.gateway_answered(s, item, answer, started, now_ms()),
            )
        )

    async def _one(self, item: QueueItem) -> QueueItem | None:
        if item.kind in timers.HANDLERS:
            await self._batched.save(
                group_commit.Work(item.run_id or "", lambda s: self.machine.fire(s, item, now_ms()))
            )
            return None
        nxt, _ = await self._call(item, None)
        return nxt

    async def _call(
        self, item: QueueItem, known: RunState | None
    ) -> tuple[QueueItem | None, RunState | None]:
        """Call the app for a run and act on its answer. Returns the run's next call when it
        goes on at once, with the run's state when this process knows it exactly (it saved
        that state itself), so the next call needs no reads."""
        assert item.run_id is not None
        if known is not None and known.run.id == item.run_id:
            run: RunRecord | None = known.run
            memos = known.memos
        else:
            async with self.store.read() as r:
                run = await r.get_run(item.run_id)
                memos = await r.load_memos(item.run_id) if run is not None else {}
        if run is None or run.status.finished:
            async with self._tx() as s:
                await s.delete_item(item.id)
            return None, None
        spec = self.registry.get(run.function_id)
        if spec is None and self.store.shared:
            # Synced by another process since this one last looked?
            async with self.store.read() as r:
                await sync_registry(self.registry, r)
            spec = self.registry.get(run.function_id)
        if spec is None:
            message = f"function {run.function_id!r} is not synced"
            await self._fail_run(item, run.id, errors.standard("FunctionNotFound", message))
            return None, None
        app = spec.app_id
        if not await self._slot_for(app):
            # The app has its share of the slots busy with slow or hanging calls: this call
            # waits in the queue a moment, and its task slot goes to other apps' work.
            await self._release(item, APP_BUSY_DELAY_MS)
            return None, None
        # Taken now, before any await: tasks checking meanwhile must see it.
        self._app_calls[app] += 1
        try:
            return await self._call_app(item, run, spec, memos)
        finally:
            self._app_calls[app] -= 1
            if not self._app_calls[app]:
                del self._app_calls[app]
            freed, self._slot_freed = self._slot_freed, asyncio.Event()
            freed.set()

    async def _slot_for(self, app: str) -> bool:
        """Wait a little for ``app`` to have room for one more call. An app whose calls are
        quick gets room at once (no trip through the queue); one whose calls are slow or
        hang does not, and the call goes back to the queue."""
        if self.may_call(app):
            return True
        deadline = asyncio.get_running_loop().time() + APP_WAIT_S
        self._waiting += 1
        self._wake.set()  # the loop may lease other apps' work now
        try:
            while not self.may_call(app):
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._slot_freed.wait(), left)
            return True
        finally:
            self._waiting -= 1

    def may_call(self, app: str) -> bool:
        """Whether ``app`` may have one more call in flight. The apps with calls in flight
        share ``max_app_calls`` equally; an app with none may always start one (while a
        slot is free), since calls in flight cannot be taken back when a new app turns up:
        so slow or hanging apps never fill every slot between them."""
        mine = self._app_calls.get(app, 0)
        if mine == 0:
            return True
        share = max(1, self.max_app_calls // len(self._app_calls))
        return mine < share and sum(self._app_calls.values()) < self.max_app_calls

    async def _fail_run(self, item: QueueItem, run_id: str, error: dict[str, Any]) -> None:
        """The run cannot go on (its function is gone, its state too large): it fails."""
        async with self._tx() as s:
            await s.delete_item(item.id)
            locked = await s.lock_run(run_id)
            if locked is not None:
                await self.machine.finish(s, locked, RunStatus.FAILED, now_ms(), error=error)

    async def _call_app(
        self, item: QueueItem, run: RunRecord, spec: FunctionSpec, memos: dict[str, Any]
    ) -> tuple[QueueItem | None, RunState | None]:
        step_id = item.step if item.kind is QueueKind.STEP and item.step else DISCOVERY_STEP_ID
        started = now_ms()
        if run.status is RunStatus.QUEUED:
            # Started means first called (timeouts.start counts the time before this).
            await self._batched.save(
                group_commit.Work(run.id, lambda s: self.machine.start(s, run.id, spec, started))
            )
        try:
            body = request_body(run, spec, memos, item, step_id)
        except StateTooLarge as exc:
            err = errors.state_overflowed(MAX_RUN_STATE_BYTES, str(exc))
            await self._fail_run(item, run.id, err)
            return None, None
        job_id = f"{run.id}:{item.id}"
        result = await self.caller.call(step_url(spec.url, step_id), body, run.id, job_id)
        done = one_step_done(item, run, result)
        if done is not None:
            op, memo = done
            fast = await self._steps_done.save(
                StepDone(
                    run.id,
                    item.id,
                    op.id,
                    op.label,
                    op.op,
                    memo,
                    started,
                    item.attempt + 1,
                    now_ms(),
                    now_ms() + self.lease_ms,
                    self.owner,
                )
            )
            if fast is not None:
                reused, stack_len = fast
                if stack_len != len(run.stack) + 1:
                    return reused, None  # someone else changed the run meanwhile: read again
                after = dataclasses.replace(run, stack=[*run.stack, op.id])
                return reused, RunState(after, {**memos, op.id: {"data": op.output}})
        nxt: QueueItem | None = await self._batched.save(
            group_commit.Work(
                run.id,
                lambda s: self.machine.apply(s, item, spec, result, started, now_ms()),
            )
        )
        return nxt, None
