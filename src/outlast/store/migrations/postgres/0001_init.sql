-- Outlast schema v1 (PostgreSQL). Times are unix milliseconds; JSON is stored as TEXT.
CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    sdk         TEXT,
    framework   TEXT,
    checksum    TEXT NOT NULL,
    synced_at   BIGINT NOT NULL,
    error       TEXT
);

CREATE TABLE functions (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    config      TEXT NOT NULL,
    paused      BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX functions_app ON functions (app_id);

CREATE TABLE events (
    internal_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX events_name ON events (name, internal_id);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    event_id    TEXT,
    events      TEXT NOT NULL,
    queued_at   BIGINT NOT NULL,
    started_at  BIGINT,
    ended_at    BIGINT,
    output      TEXT,
    error       TEXT,
    stack       TEXT NOT NULL DEFAULT '[]',
    parent      TEXT
);
CREATE INDEX runs_function ON runs (function_id, id);
CREATE INDEX runs_event ON runs (event_id);

CREATE TABLE steps (
    run_id       TEXT NOT NULL,
    hash         TEXT NOT NULL,
    name         TEXT,
    op           TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    done         BIGINT NOT NULL DEFAULT 0,
    memo         TEXT,
    error        TEXT,
    scheduled_at BIGINT,
    started_at   BIGINT,
    ended_at     BIGINT,
    PRIMARY KEY (run_id, hash)
);

-- The durable queue. An item is ready when due_at <= now. Leasing an item moves
-- due_at to the lease's end, so an item whose worker died becomes ready again by itself.
CREATE TABLE queue (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      TEXT,
    kind        TEXT NOT NULL,
    step        TEXT,
    payload     TEXT,
    attempt     BIGINT NOT NULL DEFAULT 0,
    due_at      BIGINT NOT NULL,
    lease_owner TEXT,
    dedupe_key  TEXT UNIQUE
);
CREATE INDEX queue_due ON queue (due_at);
CREATE INDEX queue_run ON queue (run_id);
CREATE INDEX queue_owner ON queue (lease_owner);

CREATE TABLE waits (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    step           TEXT,
    event_name     TEXT,
    expression     TEXT,
    event          TEXT,
    correlation_id TEXT,
    expires_at     BIGINT
);
CREATE INDEX waits_event ON waits (event_name);
CREATE INDEX waits_run ON waits (run_id);
CREATE INDEX waits_correlation ON waits (correlation_id);

-- One run per (function, key) while the entry lives: event ids, cron ticks, idempotency keys.
CREATE TABLE run_keys (
    function_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (function_id, key)
);
