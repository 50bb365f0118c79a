-- Open event batches (batchEvents, engine/batching.py): one per function and batch key,
-- deleted when its run starts. batch_events keeps which events went into which batch, so
-- the runs of an event include the batch run it was part of.
CREATE TABLE batches (
    id          TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    batch_key   TEXT NOT NULL,
    size        BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (function_id, batch_key)
);
CREATE TABLE batch_events (
    batch_id TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (batch_id, seq)
);
CREATE INDEX batch_events_event ON batch_events (event_id);
ALTER TABLE runs ADD COLUMN batch_id TEXT;
CREATE INDEX runs_batch ON runs (batch_id);
