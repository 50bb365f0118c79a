"""A step finished: the SQL every path that saves one runs, written once.

Three paths save finished steps: the general one (``Session.complete_step`` and
``Session.reuse_item``, which the engine calls), the Python fast paths (``fast_paths``,
calling those same methods for a batch) and PostgreSQL's functions (``pg_functions``),
which run the statements below inside PL/pgSQL so a batch is one round trip. The SQL uses
named parameters (``:run``); :func:`positional` turns it into the store's ``?`` form,
:func:`plpgsql` into a function body's ``p_run``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from outlast.store.dialect import Dialect
from outlast.store.rows import ITEM_COLS, STEP_COLS

#: Insert a finished step, or finish the recorded one; changes no row when it was done
#: already (a retried answer or checkpoint), so the caller pushes it on the stack only
#: when a row changed.
STEP_FINISHED = (
    f"INSERT INTO steps ({STEP_COLS}) "
    "VALUES (:run, :hash, :name, :op, :status, :attempts, :memo, :error, :now, :started, "
    ":now, 1) "
    "ON CONFLICT (run_id, hash) DO UPDATE SET status = excluded.status, "
    # A wait or invoke is resolved without its op (""): keep the one recorded.
    "op = COALESCE(NULLIF(excluded.op, ''), steps.op), "
    "name = COALESCE(excluded.name, steps.name), "
    "attempts = excluded.attempts, memo = excluded.memo, error = excluded.error, "
    "started_at = COALESCE(excluded.started_at, steps.started_at), "
    "ended_at = excluded.ended_at, done = 1 WHERE steps.done = 0"
)

#: Turn a finished call's queue item into the run's next discovery call, leased by
#: ``:owner`` until ``:due`` (one statement where delete + insert would take two).
REUSE_ITEM = (
    "UPDATE queue SET kind = 'discover', step = NULL, payload = NULL, attempt = 0, "
    "due_at = :due, lease_owner = :owner, dedupe_key = NULL WHERE id = :item "
    f"RETURNING {ITEM_COLS}"
)


@lru_cache(maxsize=8)
def stack_push(dialect: Dialect) -> str:
    """Push ``:hash`` on the run's stack (a JSON array) in the statement: no read of the
    stack, whatever its length."""
    return f"UPDATE runs SET stack = {dialect.json_array_append('stack', ':hash')} WHERE id = :run"


_NAMED = re.compile(r"(?<![:\w]):([a-z_]+)")


@lru_cache(maxsize=32)
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with ``?`` for each named parameter, and the names in order (a name used
    twice is passed twice)."""
    names: list[str] = []

    def mark(m: re.Match[str]) -> str:
        names.append(m.group(1))
        return "?"

    return _NAMED.sub(mark, sql), tuple(names)


def plpgsql(sql: str, **exprs: str) -> str:
    """``sql`` for a PL/pgSQL body: each ``:name`` becomes ``exprs[name]`` if given (a
    literal or an expression), else the function's parameter ``p_<name>``."""
    return _NAMED.sub(lambda m: exprs.get(m.group(1), f"p_{m.group(1)}"), sql)
