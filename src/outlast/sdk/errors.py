"""Errors users raise or catch, and the codes they carry on the wire."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

logger = logging.getLogger(__name__)


class OutlastError(Exception):
    """Base class of the SDK's own errors. ``code`` is what the error body says on the wire."""

    code = "unknown"
    retriable = True


class ConfigError(OutlastError, ValueError):
    """Invalid configuration: a function option, a step argument, a missing key."""

    code = "function_config_invalid"


class SendError(OutlastError):
    """Sending events failed: the event API refused them or could not be reached."""

    code = "send_event_failed"

    def __init__(
        self, message: str, ids: list[str] | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        #: Ids of the events accepted before the failure, when the server said.
        self.ids = ids or []
        self.status = status


class NonRetriableError(OutlastError):
    """Raise from a handler or a step to fail the run now, without further retries."""

    code = "non_retriable_error"
    retriable = False

    def __init__(self, message: str = "", cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause


class RetryAfterError(OutlastError):
    """Raise from a handler or a step to be retried no sooner than ``retry_after``.

    ``retry_after`` is a delay (``timedelta`` or int milliseconds) or a point in time.
    """

    code = "retry_after_error"

    def __init__(self, message: str, retry_after: timedelta | datetime | int) -> None:
        super().__init__(message)
        self.message = message
        if isinstance(retry_after, bool):
            raise ConfigError("retry_after must be a timedelta, a datetime or milliseconds")
        if isinstance(retry_after, int):
            retry_after = timedelta(milliseconds=retry_after)
        if isinstance(retry_after, timedelta):
            retry_after = datetime.now(UTC) + retry_after
        elif retry_after.tzinfo is None:
            retry_after = retry_after.astimezone(UTC)
        #: When the retry may happen, as an aware UTC datetime.
        self.retry_after: datetime = retry_after.astimezone(UTC)


class StepError(OutlastError):
    """A step failed for good (out of retries), or an invoked function failed.

    Raised by ``ctx.step.run`` / ``ctx.step.invoke`` when the memoised result is an
    error. Catch it to recover; left uncaught it fails the run without more retries.
    """

    code = "step_errored"
    retriable = False

    def __init__(self, name: str, message: str, stack: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.stack = stack

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.name else self.message


class OutputUnserializableError(OutlastError):
    """A step or handler returned something that cannot be turned into JSON."""

    code = "output_unserializable"
    retriable = False


class NestedStepError(OutlastError):
    """A step was called inside another step's function."""

    code = "step_nested"
    retriable = False


class StepUnexpectedError(OutlastError):
    """The server asked for a step the function did not reach."""

    code = "step_unexpected"
