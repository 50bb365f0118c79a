"""Domain records shared by the engine, the stores and the server: plain frozen dataclasses."""

from outlast.domain.records import (
    App,
    EventRecord,
    FunctionRecord,
    QueueItem,
    QueueKind,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    Wait,
    WaitKind,
)

__all__ = [
    "App",
    "EventRecord",
    "FunctionRecord",
    "QueueItem",
    "QueueKind",
    "RunRecord",
    "RunStatus",
    "StepRecord",
    "StepStatus",
    "Wait",
    "WaitKind",
]
