"""Wire models of a sync (``POST /fn/register``): the app and its functions' configuration.

Both spellings the official SDKs use are accepted (``appname``/``appName``,
``deploy_type``/``deployType``). Null means "not set", as the Python SDK sends it.
Durations stay strings here; the server parses and bounds them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from outlast.protocol import ops

Duration = str | int


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _Lenient(BaseModel):
    """For objects the SDKs extend over time: unknown keys are kept, not refused."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class EventTrigger(_Model):
    event: str = Field(min_length=1, max_length=ops.MAX_EVENT_NAME_LENGTH)
    expression: str | None = None


class CronTrigger(_Model):
    cron: str = Field(min_length=1)
    jitter: Duration | None = None


def _trigger_kind(value: Any) -> str:
    # A trigger is a cron trigger when it has ``cron``: errors then speak of that shape only,
    # rather than of both members of the union.
    if isinstance(value, dict):
        return "CronTrigger" if "cron" in value else "EventTrigger"
    return "CronTrigger" if isinstance(value, CronTrigger) else "EventTrigger"


Trigger = Annotated[
    Annotated[EventTrigger, Tag("EventTrigger")] | Annotated[CronTrigger, Tag("CronTrigger")],
    Discriminator(_trigger_kind),
]


class Retries(_Model):
    attempts: int = Field(ge=0, le=ops.MAX_RETRIES)


class Runtime(_Lenient):
    type: Literal["http", "ws"] = "http"
    url: str


class Step(_Lenient):
    id: str
    name: str
    runtime: Runtime
    retries: Retries | None = None


class Concurrency(_Model):
    limit: int = Field(ge=0)
    key: str | None = None
    scope: Literal["fn", "env", "account"] | None = None


class Throttle(_Model):
    limit: int = Field(ge=1)
    period: Duration
    burst: int | None = Field(default=None, ge=1)
    key: str | None = None


class RateLimit(_Model):
    limit: int = Field(ge=1)
    period: Duration
    key: str | None = None


class Debounce(_Model):
    period: Duration
    key: str | None = None
    timeout: Duration | None = None


class BatchEvents(_Model):
    max_size: int = Field(ge=1, validation_alias=AliasChoices("maxSize", "max_size"))
    timeout: Duration
    key: str | None = None
    if_exp: str | None = Field(default=None, validation_alias=AliasChoices("if", "if_exp"))


class Cancel(_Model):
    event: str = Field(min_length=1)
    if_exp: str | None = Field(default=None, validation_alias=AliasChoices("if", "if_exp"))
    match: str | None = None
    timeout: Duration | None = None


class Priority(_Model):
    run: str | None = None


class Timeouts(_Model):
    start: Duration | None = None
    finish: Duration | None = None


class Singleton(_Model):
    key: str | None = None
    mode: Literal["skip", "cancel"]


class FunctionConfig(_Model):
    id: str = Field(min_length=1)
    name: str | None = None
    #: None for a function that is only ever invoked (``step.invoke``), as Inngest allows.
    triggers: list[Trigger] = Field(default_factory=list)
    steps: dict[str, Step] = Field(min_length=1)
    concurrency: int | list[Concurrency] | None = None
    throttle: Throttle | None = None
    rate_limit: RateLimit | None = Field(
        default=None, validation_alias=AliasChoices("rateLimit", "rate_limit")
    )
    debounce: Debounce | None = None
    batch_events: BatchEvents | None = Field(
        default=None, validation_alias=AliasChoices("batchEvents", "batch_events")
    )
    cancel: list[Cancel] | None = None
    priority: Priority | None = None
    timeouts: Timeouts | None = None
    idempotency: str | None = None
    singleton: Singleton | None = None
    # Fields the official SDKs send that do not change how Outlast runs the function.
    opts: dict[str, Any] | None = None
    optimize_parallelism: bool | None = Field(
        default=None, validation_alias=AliasChoices("optimizeParallelism", "optimize_parallelism")
    )

    @field_validator("concurrency", mode="before")
    @classmethod
    def _concurrency_shape(cls, value: object) -> object:
        # JS sends a single object as well as a list.
        if isinstance(value, dict):
            return [value]
        return value

    @property
    def retries(self) -> int:
        step = next(iter(self.steps.values()))
        return step.retries.attempts if step.retries is not None else ops.DEFAULT_RETRIES

    @property
    def url(self) -> str:
        return next(iter(self.steps.values())).runtime.url


class RegisterRequest(_Lenient):
    url: str = Field(min_length=1)
    app_name: str = Field(min_length=1, validation_alias=AliasChoices("appname", "appName"))
    deploy_type: str | None = Field(
        default=None, validation_alias=AliasChoices("deploy_type", "deployType")
    )
    framework: str | None = None
    sdk: str | None = None
    v: str | None = None
    app_version: str | None = Field(
        default=None, validation_alias=AliasChoices("appVersion", "app_version")
    )
    #: Required (an app with no functions sends ``[]``): a body without it is not a sync.
    functions: list[FunctionConfig]
