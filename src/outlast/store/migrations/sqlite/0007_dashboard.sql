-- The dashboard (issue 6).
-- Failed attempts of steps (store/dashboard.py; written by engine/machine.py and by
-- complete_step for a step that fails). A step's last attempt is its steps row; a
-- successful attempt writes nothing here. hash '' is a failed discovery call (the
-- function's code between steps, or an error answer). A discovery call's attempt restarts
-- at 0 after each step, so (run_id, hash, attempt) is not unique: rows have an id.
CREATE TABLE step_attempts (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL,
    hash       TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    started_at INTEGER,
    ended_at   INTEGER NOT NULL,
    error      TEXT
);
CREATE INDEX step_attempts_run ON step_attempts (run_id, hash, attempt);
-- Why an event started no run of a function its name triggers (engine/skips.py): one row
-- per event and function, the latest reason.
CREATE TABLE event_skips (
    event_id    TEXT NOT NULL,
    function_id TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (event_id, function_id)
);
-- Run lists filtered by status, with or without a function, page by id (keyset) through
-- these; function stats count a window of queued_at without reading the table.
CREATE INDEX runs_status ON runs (status, id);
CREATE INDEX runs_function_status ON runs (function_id, status, id);
CREATE INDEX runs_function_queued ON runs (function_id, queued_at, status);
