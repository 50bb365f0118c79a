-- Server processes sharing a database (store/workers.py): each refreshes its row every
-- second; the queue items leased by one whose row went stale are taken over by the others
-- (engine/executor.py), without waiting for their leases to run out.
CREATE TABLE workers (
    owner   TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
