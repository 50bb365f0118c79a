-- A rerun (POST /v1/runs/{id}/rerun) records the run it was started from.
ALTER TABLE runs ADD COLUMN original_run_id TEXT;
