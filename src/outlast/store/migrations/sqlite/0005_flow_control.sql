-- Flow control (engine/flow.py, store/leasing.py).
-- A run's concurrency keys and limits, evaluated once from its trigger event; every call
-- item of the run (kind discover / step) copies them, and leasing counts leased items per key.
ALTER TABLE runs ADD COLUMN ckey TEXT;
ALTER TABLE runs ADD COLUMN climit INTEGER;
ALTER TABLE runs ADD COLUMN ckey2 TEXT;
ALTER TABLE runs ADD COLUMN climit2 INTEGER;
ALTER TABLE queue ADD COLUMN ckey TEXT;
ALTER TABLE queue ADD COLUMN climit INTEGER;
ALTER TABLE queue ADD COLUMN ckey2 TEXT;
ALTER TABLE queue ADD COLUMN climit2 INTEGER;
CREATE INDEX queue_free_due ON queue (due_at, id) WHERE ckey IS NULL;
CREATE INDEX queue_keyed ON queue (ckey, due_at, id) WHERE ckey IS NOT NULL;
CREATE INDEX queue_keyed_due ON queue (due_at) WHERE ckey IS NOT NULL;
-- GCRA state of throttles and rate limits: the theoretical arrival time per key.
CREATE TABLE gcra (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
);
-- singleton: the one unfinished run per function and key.
CREATE TABLE singletons (
    key    TEXT PRIMARY KEY,
    run_id TEXT NOT NULL
);
CREATE INDEX singletons_run ON singletons (run_id);
-- debounce: the pending run per function and key, with the last event seen.
CREATE TABLE debounces (
    key         TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event       TEXT NOT NULL,
    first_at    INTEGER NOT NULL,
    due_at      INTEGER NOT NULL
);
