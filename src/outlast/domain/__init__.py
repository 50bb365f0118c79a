"""Domain records shared by the engine, the stores and the server: plain frozen dataclasses."""

from outlast.domain.records import (
    DISCOVERY_HASH,
    App,
    EventRecord,
    EventSkip,
    FunctionRecord,
    FunctionStats,
    QueueItem,
    QueueKind,
    RunRecord,
    RunStatus,
    SkipReason,
    StepAttempt,
    StepRecord,
    StepStatus,
    Wait,
    WaitKind,
)

__all__ = [
    "DISCOVERY_HASH",
    "App",
    "EventRecord",
    "EventSkip",
    "FunctionRecord",
    "FunctionStats",
    "QueueItem",
    "QueueKind",
    "RunRecord",
    "RunStatus",
    "SkipReason",
    "StepAttempt",
    "StepRecord",
    "StepStatus",
    "Wait",
    "WaitKind",
]
