"""PostgreSQL's fast paths as functions: a batch of answers or checkpoints is one round
trip (``PostgresStore.steps_done`` / ``save_checkpoints`` call them over ``unnest``).

Their statements are the general path's (``step_finished``), rendered into PL/pgSQL here,
so the SQL has one source. :func:`ensure` (re)creates them at open, after the migrations,
when the database's copy differs from this one: a database upgraded from a version that
created them in migrations 0006 and 0008 gets these, and a change here reaches every
database at its next open. ``CREATE OR REPLACE`` cannot change a function's parameters or
result columns: a change to those needs a function of a new name.
"""

from __future__ import annotations

from typing import Any

from outlast.domain import RunStatus, StepStatus
from outlast.store.dialect import POSTGRES
from outlast.store.step_finished import REUSE_ITEM, STEP_FINISHED, plpgsql, stack_push

_RUNNING = RunStatus.RUNNING.value
_COMPLETED = StepStatus.COMPLETED.value

# The common case of a call's answer: a discovery call came back with one step's output
# and the run goes on at once. What ``fast_paths.step_done`` does. Returns no row when the
# run is not running (the caller then takes the general path, which starts, finishes or
# drops it); otherwise the reused queue item and the stack's new length.
# ``use_column``: the result columns (id, run_id, ...) are also table columns, and every
# unqualified name in these statements means the column.
_STEP_DONE_HEADER = """outlast_step_done(
    p_run TEXT, p_item BIGINT, p_hash TEXT, p_name TEXT, p_op TEXT, p_memo TEXT,
    p_started BIGINT, p_attempts BIGINT, p_now BIGINT, p_due BIGINT, p_owner TEXT
) RETURNS TABLE (
    id BIGINT, run_id TEXT, kind TEXT, step TEXT, payload TEXT, attempt BIGINT,
    due_at BIGINT, ckey TEXT, stack_len INTEGER
) LANGUAGE plpgsql"""
_STEP_DONE_BODY = f"""
#variable_conflict use_column
DECLARE
    v_status TEXT;
    v_len INTEGER;
    v_n INTEGER;
BEGIN
    SELECT r.status, jsonb_array_length(r.stack::jsonb) INTO v_status, v_len
    FROM runs r WHERE r.id = p_run FOR UPDATE;
    IF v_status IS DISTINCT FROM '{_RUNNING}' THEN
        RETURN;
    END IF;
    {plpgsql(STEP_FINISHED, status=f"'{_COMPLETED}'", error="NULL")};
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n > 0 THEN
        {plpgsql(stack_push(POSTGRES))};
        v_len := v_len + 1;
    END IF;
    RETURN QUERY {plpgsql(REUSE_ITEM)}, v_len;
END;
"""

# The steps an SDK checkpoints during a call: what ``fast_paths.save_checkpoint`` does.
# Returns 'saved' (also for a step already done: a checkpoint resent after a lost answer),
# or why nothing was written: 'no_run', 'not_running:<status>', 'stale_call' (the call is
# no longer the run's current one).
_CHECKPOINT_HEADER = """outlast_checkpoint(
    p_run TEXT, p_item BIGINT, p_attempt BIGINT, p_hash TEXT, p_name TEXT, p_op TEXT,
    p_memo TEXT, p_started BIGINT, p_now BIGINT
) RETURNS TEXT LANGUAGE plpgsql"""
_CHECKPOINT_BODY = f"""
#variable_conflict use_column
DECLARE
    v_status TEXT;
    v_n INTEGER;
BEGIN
    SELECT r.status INTO v_status FROM runs r WHERE r.id = p_run FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_run';
    END IF;
    IF v_status IS DISTINCT FROM '{_RUNNING}' THEN
        RETURN 'not_running:' || v_status;
    END IF;
    PERFORM 1 FROM queue q WHERE q.id = p_item AND q.run_id = p_run AND q.attempt = p_attempt;
    IF NOT FOUND THEN
        RETURN 'stale_call';
    END IF;
    {plpgsql(STEP_FINISHED, status=f"'{_COMPLETED}'", error="NULL", attempts="p_attempt + 1")};
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n > 0 THEN
        {plpgsql(stack_push(POSTGRES))};
    END IF;
    RETURN 'saved';
END;
"""

#: name -> (signature and attributes, body): every function the store calls.
FUNCTIONS = {
    "outlast_step_done": (_STEP_DONE_HEADER, _STEP_DONE_BODY),
    "outlast_checkpoint": (_CHECKPOINT_HEADER, _CHECKPOINT_BODY),
}


def create_sql(name: str) -> str:
    header, body = FUNCTIONS[name]
    return f"CREATE OR REPLACE FUNCTION {header} AS $fn${body}$fn$;"


async def ensure(conn: Any) -> list[str]:
    """Create or replace the functions whose body in the current schema is not this
    module's (an asyncpg connection; run under the migration lock, so two processes
    opening at once do not both replace them). Returns the names replaced."""
    found = dict(
        await conn.fetch(
            "SELECT p.proname, p.prosrc FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname = ANY($1::text[])",
            list(FUNCTIONS),
        )
    )
    stale = [name for name, (_h, body) in FUNCTIONS.items() if found.get(name) != body]
    if stale:
        await conn.execute("\n".join(create_sql(name) for name in stale))
    return stale
