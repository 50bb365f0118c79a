"""Op codes, header names and other protocol constants."""

from __future__ import annotations

import hashlib
from enum import StrEnum


class Opcode(StrEnum):
    STEP_RUN = "StepRun"
    STEP_PLANNED = "StepPlanned"
    STEP_ERROR = "StepError"
    STEP_FAILED = "StepFailed"
    SLEEP = "Sleep"
    WAIT_FOR_EVENT = "WaitForEvent"
    INVOKE = "InvokeFunction"
    RUN_COMPLETE = "RunComplete"
    AI_GATEWAY = "AIGateway"
    STEP = "Step"  # legacy spelling of StepRun


class Header:
    SDK = "x-inngest-sdk"
    SIGNATURE = "x-inngest-signature"
    SERVER_KIND = "x-inngest-server-kind"
    EXPECTED_SERVER_KIND = "x-inngest-expected-server-kind"
    REQ_VERSION = "x-inngest-req-version"
    FRAMEWORK = "x-inngest-framework"
    NO_RETRY = "x-inngest-no-retry"
    RETRY_AFTER = "retry-after"
    EVENT_ID_SEED = "x-inngest-event-id-seed"
    SYNC_KIND = "x-inngest-sync-kind"
    ENV = "x-inngest-env"
    RUN_ID = "x-run-id"
    #: Sent on each call, as Inngest does: a fresh id per request, and the queue item's
    #: (the same for each attempt). The JS SDK gives them to middleware and hooks.
    REQUEST_ID = "x-request-id"
    JOB_ID = "x-inngest-job-id"
    AUTHORIZATION = "authorization"


class ServerKind(StrEnum):
    DEV = "dev"
    CLOUD = "cloud"


#: Step id the server asks for when it wants the SDK to discover the next step.
DISCOVERY_STEP_ID = "step"
#: Request body version sent by the server.
REQUEST_VERSION = 2
#: The id JS v4 uses for its RunComplete op.
RUN_COMPLETE_ID = hashlib.sha1(b"complete").hexdigest()
#: Events whose names start with this prefix are reserved for the system.
RESERVED_PREFIX = "inngest/"

EVENT_FUNCTION_FINISHED = "inngest/function.finished"
EVENT_FUNCTION_FAILED = "inngest/function.failed"
EVENT_FUNCTION_CANCELLED = "inngest/function.cancelled"
EVENT_FUNCTION_INVOKED = "inngest/function.invoked"
EVENT_CRON = "inngest/scheduled.timer"

#: Default maximum size of one event, in bytes: Inngest's servers (dev and self-hosted)
#: accept events up to 3 MiB (its ``AbsoluteMaxEventSize``), and apps rely on it.
DEFAULT_MAX_EVENT_BYTES = 3 * 1024 * 1024
#: The largest --max-event-bytes a server accepts.
MAX_EVENT_BYTES_CAP = 3 * 1024 * 1024
#: Default maximum size of one request to the event API, a separate limit: a batch of
#: events may well be larger than one event. Inngest reads the request as a stream and
#: sets no total; Outlast reads it whole, so it bounds the memory one request may take.
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_REQUEST_BYTES_CAP = 256 * 1024 * 1024
MAX_EVENTS_PER_REQUEST = 5000
MAX_EVENT_NAME_LENGTH = 256
MAX_STEP_OUTPUT_BYTES = 4 * 1024 * 1024
#: Above this much run state the server sends ``use_api`` and the SDK fetches it.
MAX_REQUEST_STATE_BYTES = 4 * 1024 * 1024
#: A run's state (its events and step outputs) may reach this much; past it the run fails.
MAX_RUN_STATE_BYTES = 32 * 1024 * 1024
DEFAULT_RETRIES = 4
MAX_RETRIES = 20
MAX_TRIGGERS = 10
MAX_CANCEL_RULES = 5
MAX_CONCURRENCY_CONSTRAINTS = 2
MAX_SLEEP_MS = 366 * 86_400_000
