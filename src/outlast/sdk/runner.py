"""Running a handler for one execution request and turning the outcome into an answer."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from outlast.protocol.ops import Header
from outlast.sdk.checkpoint import Checkpointer
from outlast.sdk.client import Client
from outlast.sdk.context import Context, ReplayLogger, SyncContext
from outlast.sdk.errors import OutlastError, RetryAfterError, StepError, StepUnexpectedError
from outlast.sdk.event import Event
from outlast.sdk.execution import SETTLE_YIELDS, Execution, Interrupt
from outlast.sdk.function import Handler, is_async_handler
from outlast.sdk.serialize import format_stack, to_json_value
from outlast.sdk.steps import Steps, SyncSteps

logger = logging.getLogger(__name__)


@dataclass
class Answer:
    """An HTTP answer before encoding: status, JSON body, extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutionRequest:
    """The body of an execution call (``POST ?fnId=..&stepId=..``)."""

    event: Event
    events: list[Event]
    steps: dict[str, Any]
    run_id: str
    attempt: int
    max_attempts: int | None
    disable_immediate: bool
    use_api: bool
    #: The call's id when the server takes checkpoints (``ctx.qi_id``), and the function's.
    call_id: str | None = None
    fn_id: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> ExecutionRequest:
        """Validate the request body; raises ValueError (or TypeError) when malformed."""
        if not isinstance(raw, dict):
            raise ValueError("request body must be a JSON object")
        ctx = raw.get("ctx") or {}
        if not isinstance(ctx, dict):
            raise ValueError("ctx must be an object")
        run_id = ctx.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise ValueError("ctx.run_id is missing")
        attempt = ctx.get("attempt", 0)
        max_attempts = ctx.get("max_attempts")
        if not isinstance(attempt, int) or isinstance(attempt, bool):
            raise ValueError("ctx.attempt must be an integer")
        if max_attempts is not None and not isinstance(max_attempts, int):
            raise ValueError("ctx.max_attempts must be an integer")
        raw_event = raw.get("event")
        event = Event.from_dict(raw_event) if isinstance(raw_event, dict) else None
        raw_events = raw.get("events") or []
        if not isinstance(raw_events, list):
            raise ValueError("events must be a list")
        events = [Event.from_dict(e) for e in raw_events]
        steps = raw.get("steps") or {}
        if not isinstance(steps, dict):
            raise ValueError("steps must be an object")
        use_api = bool(raw.get("use_api") or ctx.get("use_api"))
        if event is None:
            if not events and not use_api:
                raise ValueError("request has no event")
            event = events[0] if events else Event(name="")
        return cls(
            event=event,
            events=events or [event],
            steps=steps,
            run_id=run_id,
            attempt=attempt,
            max_attempts=max_attempts,
            disable_immediate=bool(ctx.get("disable_immediate_execution", False)),
            use_api=use_api,
            call_id=_optional_str(ctx.get("qi_id")),
            fn_id=_optional_str(ctx.get("fn_id")),
        )

    def with_state(self, events: list[dict[str, Any]], steps: dict[str, Any]) -> ExecutionRequest:
        """The same request with events and memos fetched from the API."""
        parsed = [Event.from_dict(e) for e in events]
        event = self.event if self.event.name else (parsed[0] if parsed else self.event)
        return ExecutionRequest(
            event=event,
            events=parsed or [event],
            steps=steps,
            run_id=self.run_id,
            attempt=self.attempt,
            max_attempts=self.max_attempts,
            disable_immediate=self.disable_immediate,
            use_api=False,
            call_id=self.call_id,
            fn_id=self.fn_id,
        )


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_answer(err: BaseException, status: int = 500) -> Answer:
    """The function-level error answer: ``{code, message, name, stack}``.

    Non-retriable errors add ``x-inngest-no-retry: true``; RetryAfterError adds
    ``retry-after`` (an ISO 8601 UTC date).
    """
    if isinstance(err, StepError):
        name, message, stack = err.name, err.message, err.stack or ""
    else:
        name, message, stack = type(err).__name__, str(err), format_stack(err)
    code = err.code if isinstance(err, OutlastError) else "unknown"
    headers: dict[str, str] = {}
    if isinstance(err, OutlastError) and not err.retriable:
        headers[Header.NO_RETRY] = "true"
    if isinstance(err, RetryAfterError):
        headers[Header.RETRY_AFTER] = err.retry_after.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return Answer(status, {"code": code, "message": message, "name": name, "stack": stack}, headers)


async def execute(
    client: Client,
    handler: Handler,
    function_id: str,
    request: ExecutionRequest,
    target: str | None,
) -> Answer:
    """Run ``handler`` once against the request's memos and decide the answer."""
    is_async = is_async_handler(handler)
    exe = Execution(
        memos=request.steps,
        target=target,
        disable_immediate=request.disable_immediate,
        attempt=request.attempt,
        max_attempts=request.max_attempts,
        can_yield=is_async,
    )
    if client.checkpointing and request.call_id is not None:
        exe.checkpointer = Checkpointer(
            client, run_id=request.run_id, fn_id=request.fn_id, qi_id=request.call_id
        )
    steps = Steps(exe, client, sync=not is_async)
    common: dict[str, Any] = {
        "event": request.event,
        "events": request.events,
        "run_id": request.run_id,
        "attempt": request.attempt,
        "max_attempts": request.max_attempts,
        "function_id": function_id,
        "logger": ReplayLogger(client.logger, exe),
    }
    interrupted = False
    error: Exception | None = None
    value: Any = None
    try:
        if is_async:
            value = await handler(Context(step=steps, **common))  # type: ignore[arg-type]
        else:
            ctx = SyncContext(step=SyncSteps(steps, client), **common)
            # A worker thread, so a blocking handler does not stall the event loop.
            value = await asyncio.to_thread(handler, ctx)  # type: ignore[arg-type]
    except Interrupt:
        interrupted = True
    except Exception as err:
        if err.__traceback__ is not None and err.__traceback__.tb_next is not None:
            err.__traceback__ = err.__traceback__.tb_next
        error = err
    return await _answer(exe, interrupted=interrupted, error=error, value=value)


async def _answer(
    exe: Execution, *, interrupted: bool, error: Exception | None, value: Any
) -> Answer:
    # A step may still be executing in a task that asyncio.gather left running
    # after a sibling stopped the handler.
    await exe.wait_executing()
    if interrupted and exe.outcome is None and not exe.reported and exe.can_yield:
        # Targeted step not reached yet: give gathered sibling tasks a chance.
        for _ in range(SETTLE_YIELDS):
            await asyncio.sleep(0)
        await exe.wait_executing()
    if exe.outcome is not None:
        headers = {Header.NO_RETRY: "true"} if exe.no_retry else {}
        return Answer(206, [exe.outcome.to_wire()], headers)
    if exe.reported:
        return Answer(206, exe.planned_ops())
    if interrupted:
        return error_answer(
            StepUnexpectedError(
                f'found step "{exe.skipped}" when targeting a different step'
                if exe.skipped
                else "the targeted step was not found"
            )
        )
    if error is not None:
        if not isinstance(error, OutlastError):
            logger.warning("function failed: %s: %s", type(error).__name__, error)
        return error_answer(error)
    try:
        return Answer(200, to_json_value(value, "function result"))
    except Exception as err:
        return error_answer(err)
