"""Outlast: durable functions for Python, wire-compatible with Inngest.

The SDK's public API. Serve adapters live in ``outlast.asgi``, ``outlast.flask``
and ``outlast.django`` (imported on first use).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from outlast.sdk.client import Client
from outlast.sdk.config import VERSION as __version__
from outlast.sdk.context import Context, SyncContext
from outlast.sdk.errors import (
    ConfigError,
    NonRetriableError,
    RetryAfterError,
    SendError,
    StepError,
)
from outlast.sdk.event import Event
from outlast.sdk.function import Function
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
    TriggerCron,
    TriggerEvent,
)
from outlast.sdk.steps import Steps, SyncSteps

__all__ = [
    "Batch",
    "Cancel",
    "Client",
    "Concurrency",
    "ConfigError",
    "Context",
    "Debounce",
    "Event",
    "Function",
    "NonRetriableError",
    "Priority",
    "RateLimit",
    "RetryAfterError",
    "SendError",
    "Singleton",
    "StepError",
    "Steps",
    "SyncContext",
    "SyncSteps",
    "Throttle",
    "Timeouts",
    "TriggerCron",
    "TriggerEvent",
    "__version__",
]

_ADAPTERS = {"asgi", "flask", "django"}


def __getattr__(name: str) -> ModuleType:
    # Adapters import their framework, so load them only when asked for.
    if name in _ADAPTERS:
        return importlib.import_module(f"outlast.{name}")
    raise AttributeError(f"module 'outlast' has no attribute {name!r}")
