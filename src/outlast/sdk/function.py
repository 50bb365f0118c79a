"""Functions: a handler plus its triggers and options, and their registration config."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from outlast.protocol.ops import (
    DISCOVERY_STEP_ID,
    EVENT_FUNCTION_FAILED,
    MAX_CANCEL_RULES,
    MAX_CONCURRENCY_CONSTRAINTS,
    MAX_RETRIES,
    MAX_TRIGGERS,
)
from outlast.sdk.errors import ConfigError
from outlast.sdk.options import (
    Batch,
    Cancel,
    Concurrency,
    Debounce,
    Priority,
    RateLimit,
    Singleton,
    Throttle,
    Timeouts,
    Trigger,
    TriggerCron,
    TriggerEvent,
)

if TYPE_CHECKING:
    from outlast.sdk.context import Context, SyncContext

logger = logging.getLogger(__name__)

#: ``async def f(ctx: Context)`` or ``def f(ctx: SyncContext)``.
Handler = Callable[["Context"], Awaitable[Any]] | Callable[["SyncContext"], Any]
TriggerArg = Trigger | str | Sequence[Trigger | str]


class Function:
    """A durable function, made by ``@client.function(...)``.

    Calling it calls the handler directly (handy in unit tests).
    """

    def __init__(
        self,
        *,
        app_id: str,
        fn_id: str,
        name: str,
        handler: Handler,
        triggers: list[Trigger],
        retries: int,
        on_failure: Handler | None,
        options: dict[str, Any],
    ) -> None:
        self.id = fn_id
        self.app_id = app_id
        self.name = name
        self.handler = handler
        self.triggers = triggers
        self.retries = retries
        self.on_failure = on_failure
        self._options = options

    @property
    def full_id(self) -> str:
        """The id the server knows: ``<app_id>-<fn_id>``."""
        return f"{self.app_id}-{self.id}"

    @property
    def failure_id(self) -> str | None:
        """The id of the on_failure function, when there is one."""
        return f"{self.full_id}-failure" if self.on_failure is not None else None

    def __call__(self, ctx: Any) -> Any:
        return self.handler(ctx)

    def __repr__(self) -> str:
        return f"<outlast.Function {self.full_id}>"

    def handler_for(self, fn_id: str) -> Handler | None:
        """The handler for the server's ``fnId``: this function's or its on_failure handler."""
        if fn_id in (self.full_id, self.id):
            return self.handler
        if self.on_failure is not None and fn_id in (self.failure_id, f"{self.id}-failure"):
            return self.on_failure
        return None

    def configs(self, serve_url: str) -> list[dict[str, Any]]:
        """The function's registration config (and its on_failure function's)."""
        out = [
            {
                "id": self.full_id,
                "name": self.name,
                "triggers": [t.to_wire() for t in self.triggers],
                "steps": _steps(serve_url, self.full_id, self.retries),
                **self._options,
            }
        ]
        if self.failure_id is not None:
            out.append(
                {
                    "id": self.failure_id,
                    "name": f"{self.name} (failure)",
                    "triggers": [
                        {
                            "event": EVENT_FUNCTION_FAILED,
                            "expression": f"event.data.function_id == '{self.full_id}'",
                        }
                    ],
                    "steps": _steps(serve_url, self.failure_id, 0),
                }
            )
        return out


def _steps(serve_url: str, fn_id: str, retries: int) -> dict[str, Any]:
    url = f"{serve_url}?{urlencode({'fnId': fn_id, 'stepId': DISCOVERY_STEP_ID})}"
    return {
        DISCOVERY_STEP_ID: {
            "id": DISCOVERY_STEP_ID,
            "name": DISCOVERY_STEP_ID,
            "runtime": {"type": "http", "url": url},
            "retries": {"attempts": retries},
        }
    }


def _triggers(trigger: TriggerArg) -> list[Trigger]:
    single = isinstance(trigger, str | TriggerEvent | TriggerCron)
    items: list[Trigger | str] = [trigger] if single else list(trigger)  # type: ignore[list-item,arg-type]
    out: list[Trigger] = []
    for item in items:
        if isinstance(item, str):
            out.append(TriggerEvent(item))
        elif isinstance(item, TriggerEvent | TriggerCron):
            out.append(item)
        else:
            raise ConfigError(f"a trigger must be TriggerEvent, TriggerCron or a string: {item!r}")
    # No trigger: a function only ever invoked (``step.invoke``), as Inngest allows.
    if len(out) > MAX_TRIGGERS:
        raise ConfigError(f"a function has at most {MAX_TRIGGERS} triggers, got {len(out)}")
    return out


def _concurrency(value: int | Concurrency | Sequence[Concurrency]) -> list[dict[str, Any]]:
    if isinstance(value, bool):
        raise ConfigError("concurrency must be an int, a Concurrency or a list of them")
    if isinstance(value, int):
        items = [Concurrency(value)]
    elif isinstance(value, Concurrency):
        items = [value]
    else:
        items = list(value)
    if not 1 <= len(items) <= MAX_CONCURRENCY_CONSTRAINTS:
        raise ConfigError(
            f"concurrency takes 1 to {MAX_CONCURRENCY_CONSTRAINTS} constraints, got {len(items)}"
        )
    for item in items:
        if not isinstance(item, Concurrency):
            raise ConfigError(f"not a Concurrency: {item!r}")
    return [c.to_wire() for c in items]


def _check_handler(handler: object, what: str) -> None:
    if not callable(handler):
        raise ConfigError(f"{what} must be a function taking ctx")


def make_function(
    handler: Handler,
    *,
    app_id: str,
    id: str,
    trigger: TriggerArg,
    name: str | None = None,
    retries: int = 4,
    on_failure: Handler | None = None,
    cancel: Cancel | Sequence[Cancel] | None = None,
    timeouts: Timeouts | None = None,
    concurrency: int | Concurrency | Sequence[Concurrency] | None = None,
    throttle: Throttle | None = None,
    rate_limit: RateLimit | None = None,
    debounce: Debounce | None = None,
    batch_events: Batch | None = None,
    priority: Priority | None = None,
    singleton: Singleton | None = None,
    idempotency: str | None = None,
) -> Function:
    """Validate the options and build a Function (raises ConfigError)."""
    if not isinstance(id, str) or not id.strip():
        raise ConfigError("a function id must be a non-empty string")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"function {id!r}: name must be a non-empty string")
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= MAX_RETRIES:
        raise ConfigError(f"function {id!r}: retries must be 0 to {MAX_RETRIES}, got {retries!r}")
    _check_handler(handler, f"function {id!r}")
    if on_failure is not None:
        _check_handler(on_failure, f"function {id!r}: on_failure")
    options: dict[str, Any] = {}
    if cancel is not None:
        rules = [cancel] if isinstance(cancel, Cancel) else list(cancel)
        if len(rules) > MAX_CANCEL_RULES:
            raise ConfigError(f"function {id!r}: at most {MAX_CANCEL_RULES} cancel rules")
        if not all(isinstance(r, Cancel) for r in rules):
            raise ConfigError(f"function {id!r}: cancel takes Cancel rules")
        if rules:
            options["cancel"] = [r.to_wire() for r in rules]
    if concurrency is not None:
        options["concurrency"] = _concurrency(concurrency)
    typed: list[tuple[str, object, type]] = [
        ("timeouts", timeouts, Timeouts),
        ("throttle", throttle, Throttle),
        ("rateLimit", rate_limit, RateLimit),
        ("debounce", debounce, Debounce),
        ("batchEvents", batch_events, Batch),
        ("priority", priority, Priority),
        ("singleton", singleton, Singleton),
    ]
    for key, value, kind in typed:
        if value is None:
            continue
        if not isinstance(value, kind):
            raise ConfigError(f"function {id!r}: {key} must be a {kind.__name__}")
        options[key] = value.to_wire()  # type: ignore[attr-defined]
    if idempotency is not None:
        if not isinstance(idempotency, str) or not idempotency.strip():
            raise ConfigError(f"function {id!r}: idempotency must be a CEL expression")
        options["idempotency"] = idempotency
    if batch_events is not None:
        clash = [k for k in ("cancel", "debounce", "singleton", "priority") if k in options]
        if clash:
            raise ConfigError(
                f"function {id!r}: batch_events cannot be combined with {', '.join(clash)}"
            )
    return Function(
        app_id=app_id,
        fn_id=id,
        name=name or id,
        handler=handler,
        triggers=_triggers(trigger),
        retries=retries,
        on_failure=on_failure,
        options=options,
    )


def is_async_handler(handler: Handler) -> bool:
    """True for ``async def`` handlers (also through functools.partial or a callable object)."""
    target: Any = handler
    while hasattr(target, "func"):
        target = target.func
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(target, "__call__", None)  # noqa: B004 - callable objects
    return inspect.iscoroutinefunction(call)
