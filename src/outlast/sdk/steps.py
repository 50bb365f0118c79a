"""The step API: ``ctx.step`` (async) and its synchronous facade for ``def`` handlers."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, TypeVarTuple, overload

from outlast.protocol.durations import format_ms
from outlast.protocol.op import InvokeOpts, WaitOpts
from outlast.protocol.ops import MAX_SLEEP_MS, Opcode
from outlast.sdk.errors import (
    ConfigError,
    NonRetriableError,
    OutputUnserializableError,
    RetryAfterError,
)
from outlast.sdk.event import Event, event_to_dict
from outlast.sdk.execution import Execution, Interrupt, current_step, parallel_mode
from outlast.sdk.options import Duration, combine_if, duration_ms, duration_str
from outlast.sdk.serialize import to_json_value

if TYPE_CHECKING:
    from outlast.sdk.client import Client
    from outlast.sdk.function import Function

logger = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

EventLike = Event | Mapping[str, Any]
ParallelMode = Literal["wait", "race"]


def _sleep_ms(value: Duration, what: str) -> int:
    ms = duration_ms(value, what)
    if ms > MAX_SLEEP_MS:
        raise ConfigError(f"{what} must be at most a year")
    return ms


def _iso_utc(value: datetime | str) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(f"not an ISO 8601 date: {value!r}") from exc
    if not isinstance(value, datetime):
        raise ConfigError("sleep_until needs a datetime or an ISO 8601 string")
    # Naive datetimes are local time, as datetime.astimezone() reads them.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Steps:
    """Durable steps of an async handler: each runs once, its result is memoised."""

    def __init__(self, execution: Execution, client: Client, *, sync: bool = False) -> None:
        self._exe = execution
        self._client = client
        self._sync = sync

    @overload
    async def run(self, step_id: str, fn: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T: ...

    @overload
    async def run(self, step_id: str, fn: Callable[[*Ts], T], *args: *Ts) -> T: ...

    async def run(self, step_id: str, fn: Callable[[*Ts], Any], *args: *Ts) -> Any:
        """Run ``fn(*args)`` (sync or async) once; return its JSON-serialisable result,
        typed as ``fn`` returns it.

        A failure is retried by the server; when out of retries this raises StepError.
        """
        op, memo = self._exe.begin(step_id, Opcode.STEP_RUN)
        if memo is not None:
            return memo.value()
        await self._exe.decide(op)
        began = time.time()
        token = current_step.set(step_id)
        try:
            out = fn(*args)
            if inspect.isawaitable(out):
                if self._sync:
                    if inspect.iscoroutine(out):
                        out.close()
                    raise ConfigError("a synchronous handler's step.run needs a synchronous fn")
                out = await out
            data = to_json_value(out, f'output of step "{step_id}"')
        except (NonRetriableError, RetryAfterError, OutputUnserializableError):
            # These fail the function, not just the step (as inngest-py does).
            self._exe.abandon(op)
            raise
        except Exception as err:
            _drop_own_frame(err)
            self._exe.fail(op, err)
        finally:
            current_step.reset(token)
        if await self._exe.checkpoint(op, data, began):
            return data
        self._exe.succeed(op, data)

    async def sleep(self, step_id: str, duration: Duration) -> None:
        """Pause the run for ``duration`` (timedelta, ms or ``"1h30m"``; at most a year)."""
        ms = _sleep_ms(duration, "sleep duration")
        op, memo = self._exe.begin(step_id, Opcode.SLEEP, name=format_ms(ms))
        if memo is not None:
            memo.value()
            return None
        await self._exe.report(op)

    async def sleep_until(self, step_id: str, until: datetime | str) -> None:
        """Pause the run until ``until`` (an aware or local datetime, or an ISO 8601 string)."""
        op, memo = self._exe.begin(step_id, Opcode.SLEEP, name=_iso_utc(until))
        if memo is not None:
            memo.value()
            return None
        await self._exe.report(op)

    async def wait_for_event(
        self,
        step_id: str,
        *,
        event: str,
        timeout: Duration,  # noqa: ASYNC109 - a durable wait, not an asyncio timeout
        match: str | None = None,
        if_exp: str | None = None,
    ) -> Event | None:
        """Wait for an ``event`` that arrives after this point; None after ``timeout``.

        ``match="data.user_id"`` means ``event.data.user_id == async.data.user_id``
        (``event`` is this run's trigger, ``async`` the awaited event).
        """
        if not isinstance(event, str) or not event:
            raise ConfigError("wait_for_event needs an event name")
        wait = WaitOpts(
            timeout=format_ms(_sleep_ms(timeout, "wait timeout")),
            if_exp=combine_if(if_exp, match),
        )
        op, memo = self._exe.begin(step_id, Opcode.WAIT_FOR_EVENT, name=event, opts=wait.to_wire())
        if memo is not None:
            data = memo.value()
            return Event.from_dict(data) if isinstance(data, dict) else None
        await self._exe.report(op)

    async def invoke(
        self,
        step_id: str,
        *,
        function: Function | str,
        data: Mapping[str, Any] | None = None,
        timeout: Duration | None = None,  # noqa: ASYNC109
        app_id: str | None = None,
    ) -> Any:
        """Run another function with ``data`` as its event data and return its result.

        ``function`` is a Function or the id of a function of this app (or of
        ``app_id``). A failed or timed-out child raises StepError.
        """
        if isinstance(function, str):
            if not function:
                raise ConfigError("invoke needs a function")
            function_id = f"{app_id or self._client.app_id}-{function}"
        else:
            function_id = function.full_id
        opts = InvokeOpts(
            function_id=function_id,
            payload={"data": to_json_value(dict(data or {}), "invoke data")},
            timeout=None if timeout is None else duration_str(timeout, "invoke timeout"),
        )
        op, memo = self._exe.begin(step_id, Opcode.INVOKE, opts=opts.to_wire())
        if memo is not None:
            return memo.value()
        await self._exe.report(op)

    async def send_event(self, step_id: str, events: EventLike | Sequence[EventLike]) -> list[str]:
        """Send events as a step (sent once, even when the run is replayed); return their ids."""
        ids: list[str] = await self.run(step_id, self._client.send, _event_list(events))
        return ids

    async def parallel(
        self,
        fns: Sequence[Callable[[], Awaitable[T] | T]],
        *,
        mode: ParallelMode = "wait",
    ) -> tuple[T, ...]:
        """Run the steps made by zero-argument callables in parallel; return their results.

        ``mode="race"`` asks the server to call back after each step ends instead
        of after all of them.
        """
        if mode not in ("wait", "race"):
            raise ConfigError("parallel mode must be 'wait' or 'race'")
        token = parallel_mode.set(mode)
        results: list[T] = []
        interrupted = False
        try:
            for fn in fns:
                try:
                    out = fn()
                    if inspect.isawaitable(out):
                        out = await out
                    results.append(out)
                except Interrupt:
                    interrupted = True
        finally:
            parallel_mode.reset(token)
        if interrupted:
            raise Interrupt()
        return tuple(results)


def _drop_own_frame(err: BaseException) -> None:
    # The user's traceback should start in their code, not in the SDK.
    if err.__traceback__ is not None and err.__traceback__.tb_next is not None:
        err.__traceback__ = err.__traceback__.tb_next


def _event_list(events: EventLike | Sequence[EventLike]) -> list[dict[str, Any]]:
    items = [events] if isinstance(events, Event | Mapping) else list(events)
    return [event_to_dict(e) for e in items]


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a step coroutine that never suspends (the synchronous path) to its end."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a synchronous step awaited asynchronous work; use an async handler")


class SyncSteps:
    """The step API of a plain ``def`` handler: same behaviour as Steps, without ``await``."""

    def __init__(self, steps: Steps, client: Client) -> None:
        self._steps = steps
        self._client = client

    def run(self, step_id: str, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """See Steps.run; ``fn`` must be synchronous."""
        out: T = _drive(self._steps.run(step_id, fn, *args))
        return out

    def sleep(self, step_id: str, duration: Duration) -> None:
        """See Steps.sleep."""
        _drive(self._steps.sleep(step_id, duration))

    def sleep_until(self, step_id: str, until: datetime | str) -> None:
        """See Steps.sleep_until."""
        _drive(self._steps.sleep_until(step_id, until))

    def wait_for_event(
        self,
        step_id: str,
        *,
        event: str,
        timeout: Duration,
        match: str | None = None,
        if_exp: str | None = None,
    ) -> Event | None:
        """See Steps.wait_for_event."""
        return _drive(
            self._steps.wait_for_event(
                step_id, event=event, timeout=timeout, match=match, if_exp=if_exp
            )
        )

    def invoke(
        self,
        step_id: str,
        *,
        function: Function | str,
        data: Mapping[str, Any] | None = None,
        timeout: Duration | None = None,
        app_id: str | None = None,
    ) -> Any:
        """See Steps.invoke."""
        return _drive(
            self._steps.invoke(
                step_id, function=function, data=data, timeout=timeout, app_id=app_id
            )
        )

    def send_event(self, step_id: str, events: EventLike | Sequence[EventLike]) -> list[str]:
        """See Steps.send_event."""
        return self.run(step_id, self._client.send_sync, _event_list(events))

    def parallel(
        self, fns: Sequence[Callable[[], T]], *, mode: ParallelMode = "wait"
    ) -> tuple[T, ...]:
        """See Steps.parallel; the callables call synchronous steps."""
        return _drive(self._steps.parallel(fns, mode=mode))
