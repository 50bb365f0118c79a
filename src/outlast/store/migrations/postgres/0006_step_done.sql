-- The common case of a call's answer in one round trip (store/postgres.py, step_done): a
-- discovery call came back with one step's output and the run goes on at once. Same
-- statements as the general path (engine/machine.py apply → checkpoint.save_output →
-- complete_step, then reuse_item), in one function call instead of eight round trips.
-- Returns no row when the run is not running (the caller then takes the general path,
-- which starts, finishes or drops it); otherwise the reused queue item and the stack's
-- new length.
CREATE FUNCTION outlast_step_done(
    p_run TEXT, p_item BIGINT, p_hash TEXT, p_name TEXT, p_op TEXT, p_memo TEXT,
    p_started BIGINT, p_attempts BIGINT, p_now BIGINT, p_due BIGINT, p_owner TEXT
) RETURNS TABLE (
    id BIGINT, run_id TEXT, kind TEXT, step TEXT, payload TEXT, attempt BIGINT,
    due_at BIGINT, ckey TEXT, stack_len INTEGER
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_status TEXT;
    v_len INTEGER;
    v_n INTEGER;
BEGIN
    SELECT r.status, jsonb_array_length(r.stack::jsonb) INTO v_status, v_len
    FROM runs r WHERE r.id = p_run FOR UPDATE;
    IF v_status IS DISTINCT FROM 'running' THEN
        RETURN;
    END IF;
    INSERT INTO steps (run_id, hash, name, op, status, attempts, memo, error, scheduled_at,
                       started_at, ended_at, done)
    VALUES (p_run, p_hash, p_name, p_op, 'completed', p_attempts, p_memo, NULL, p_now,
            p_started, p_now, 1)
    ON CONFLICT ON CONSTRAINT steps_pkey DO UPDATE SET status = excluded.status,
        op = COALESCE(NULLIF(excluded.op, ''), steps.op),
        name = COALESCE(excluded.name, steps.name),
        attempts = excluded.attempts, memo = excluded.memo, error = excluded.error,
        started_at = COALESCE(excluded.started_at, steps.started_at),
        ended_at = excluded.ended_at, done = 1
    WHERE steps.done = 0;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n > 0 THEN
        UPDATE runs SET stack = (stack::jsonb || jsonb_build_array(p_hash))::text
        WHERE runs.id = p_run;
        v_len := v_len + 1;
    END IF;
    RETURN QUERY
    UPDATE queue q SET kind = 'discover', step = NULL, payload = NULL, attempt = 0,
        due_at = p_due, lease_owner = p_owner, dedupe_key = NULL
    WHERE q.id = p_item
    RETURNING q.id, q.run_id, q.kind, q.step, q.payload, q.attempt, q.due_at, q.ckey, v_len;
END;
$$;
