-- The steps an SDK checkpoints during a call, in one round trip per batch (store/postgres.py,
-- save_checkpoints): the same checks and statements as the general path (engine/checkpoint.py
-- apply → lock_run, get_item, complete_step). Returns 'saved' (or 'saved' for a step already
-- done: a checkpoint resent after a lost answer), or why nothing was written: 'no_run',
-- 'not_running:<status>', 'stale_call' (the call is no longer the run's current one).
CREATE FUNCTION outlast_checkpoint(
    p_run TEXT, p_item BIGINT, p_attempt BIGINT, p_hash TEXT, p_name TEXT, p_op TEXT,
    p_memo TEXT, p_started BIGINT, p_now BIGINT
) RETURNS TEXT LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_status TEXT;
    v_n INTEGER;
BEGIN
    SELECT r.status INTO v_status FROM runs r WHERE r.id = p_run FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_run';
    END IF;
    IF v_status IS DISTINCT FROM 'running' THEN
        RETURN 'not_running:' || v_status;
    END IF;
    PERFORM 1 FROM queue q WHERE q.id = p_item AND q.run_id = p_run AND q.attempt = p_attempt;
    IF NOT FOUND THEN
        RETURN 'stale_call';
    END IF;
    INSERT INTO steps (run_id, hash, name, op, status, attempts, memo, error, scheduled_at,
                       started_at, ended_at, done)
    VALUES (p_run, p_hash, p_name, p_op, 'completed', p_attempt + 1, p_memo, NULL, p_now,
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
    END IF;
    RETURN 'saved';
END;
$$;
