"""Every path that saves a finished step leaves the same rows.

Random batches of step results (answers with one finished step, and checkpointed steps)
are applied to the same starting rows through the general path (the session calls the
engine makes: ``lock_run``, ``complete_step``, ``reuse_item`` / ``get_item``), through
the Python fast paths (``Store.steps_done`` / ``Store.save_checkpoints``) and, on
PostgreSQL, through its functions (``PostgresStore``'s overrides); the runs, steps, queue
items and failed attempts they leave, and what each call returned, must be identical.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from outlast.domain import QueueItem, RunStatus, StepStatus
from outlast.protocol.jsonutil import dumps_str, loads
from outlast.store import Store
from outlast.store.rows import RUN_COLS, STEP_COLS, CheckpointStep, StepDone

SEEDS = range(12)
RUNS = [f"run-{i}" for i in range(6)]
HASHES = [f"h{i}" for i in range(5)]
#: Far from any id a seeded item gets.
MISSING_ITEM = 10**9

Rows = dict[str, list[tuple[Any, ...]]]
StepsDone = Callable[[Store, Sequence[StepDone]], Awaitable[list[tuple[QueueItem, int] | None]]]
Checkpoints = Callable[[Store, Sequence[CheckpointStep]], Awaitable[list[str]]]


# -- the starting rows ------------------------------------------------------------------


def scenario(seed: int) -> dict[str, Any]:
    """Runs in every status, steps done and not yet done, the runs' current calls."""
    rnd = random.Random(seed)
    runs, steps, items = [], [], []
    for run_id in RUNS:
        status = rnd.choice([RunStatus.RUNNING] * 4 + [RunStatus.QUEUED, RunStatus.COMPLETED])
        stack = []
        for h in HASHES[:4]:
            state = rnd.choice(["none", "done", "pending"])
            if state == "done":
                stack.append(h)
                steps.append(
                    (run_id, h, "old", "StepRun", "completed", 1, '{"data":0}', None, 1, 2, 3, 1)
                )
            elif state == "pending":
                steps.append(
                    (
                        run_id,
                        h,
                        rnd.choice([None, "planned"]),
                        rnd.choice(["StepPlanned", "WaitForEvent"]),
                        rnd.choice([StepStatus.PLANNED.value, StepStatus.WAITING.value]),
                        rnd.randint(0, 2),
                        None,
                        rnd.choice([None, '{"message":"boom"}']),
                        1,
                        rnd.choice([None, 2]),
                        None,
                        0,
                    )
                )
        runs.append((run_id, status.value, dumps_str(stack)))
        if rnd.random() < 0.85:
            items.append((run_id, rnd.choice(["discover", "step"]), rnd.randint(0, 2)))
    items.append((None, "cron", 0))  # not a run's: must stay as it is
    return {"runs": runs, "steps": steps, "items": items}


async def seed(store: Store, start: dict[str, Any]) -> list[int]:
    """Replace every row with the scenario's; the queue items' ids, in order."""
    async with store.tx() as s:
        for table in ("runs", "steps", "queue", "step_attempts"):
            await s.c.execute(f"DELETE FROM {table}")
        for run_id, status, stack in start["runs"]:
            await s.c.execute(
                "INSERT INTO runs (id, function_id, status, events, queued_at, stack) "
                "VALUES (?, 'fn', ?, '[]', 1, ?)",
                (run_id, status, stack),
            )
        for row in start["steps"]:
            await s.c.execute(
                f"INSERT INTO steps ({STEP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row
            )
        ids = []
        for run_id, kind, attempt in start["items"]:
            r = await s.c.fetchone(
                "INSERT INTO queue (run_id, kind, step, attempt, due_at, lease_owner) "
                "VALUES (?, ?, ?, ?, 500, 'w0') RETURNING id",
                (run_id, kind, "h0" if kind == "step" else None, attempt),
            )
            assert r is not None
            ids.append(int(r[0]))
    return ids


# -- the step results -------------------------------------------------------------------


def answers(rnd: random.Random, ids: list[int], start: dict[str, Any], n: int) -> list[StepDone]:
    """A batch of answers: one per run at most (a run has one call at a time)."""
    item_of = {run_id: ids[i] for i, (run_id, _k, _a) in enumerate(start["items"]) if run_id}
    out = []
    for i, run_id in enumerate(rnd.sample(RUNS, rnd.randint(1, len(RUNS)))):
        now = 1_000 * n + i
        out.append(
            StepDone(
                run_id=run_id,
                item_id=item_of.get(run_id, MISSING_ITEM) if rnd.random() < 0.9 else MISSING_ITEM,
                step=rnd.choice(HASHES),
                name=rnd.choice([None, f"step {i}"]),
                op=rnd.choice(["StepRun", ""]),
                memo=dumps_str({"data": rnd.choice([None, i, "text", {"n": [i, "é"]}])}),
                started_at=now - 5,
                attempts=rnd.randint(0, 3),
                now=now,
                due_at=now + 30_000,
                owner="w1",
            )
        )
    return out


def checkpoints(
    rnd: random.Random, ids: list[int], start: dict[str, Any], n: int
) -> list[CheckpointStep]:
    """A batch of checkpointed steps: several of one run, some for a stale call."""
    calls = [(run_id, ids[i], a) for i, (run_id, _k, a) in enumerate(start["items"]) if run_id]
    out = []
    for i in range(rnd.randint(1, 8)):
        run_id = rnd.choice(RUNS)
        call = [c for c in calls if c[0] == run_id] or [rnd.choice(calls)]
        _r, item_id, attempt = call[0]
        now = 1_000 * n + i
        out.append(
            CheckpointStep(
                run_id=run_id,
                item_id=item_id,
                attempt=attempt + (1 if rnd.random() < 0.15 else 0),
                step=rnd.choice(HASHES),
                name=rnd.choice([None, f"cp {i}"]),
                op=rnd.choice(["StepRun", ""]),
                memo=dumps_str({"data": [i, rnd.random() < 0.5]}),
                started_at=rnd.choice([None, now - 3]),
                now=now,
            )
        )
    return out


# -- the paths --------------------------------------------------------------------------


async def general_steps_done(
    store: Store, batch: Sequence[StepDone]
) -> list[tuple[QueueItem, int] | None]:
    """What ``Machine.apply`` does with an answer of one finished step."""
    out: list[tuple[QueueItem, int] | None] = []
    async with store.tx() as s:
        for d in batch:
            run = await s.lock_run(d.run_id)
            if run is None or run.status is not RunStatus.RUNNING:
                out.append(None)
                continue
            saved = await s.complete_step(
                d.run_id,
                d.step,
                name=d.name,
                op=d.op,
                memo=loads(d.memo),
                status=StepStatus.COMPLETED,
                now=d.now,
                started_at=d.started_at,
                attempts=d.attempts,
            )
            item = await s.reuse_item(d.item_id, d.due_at, d.owner)
            out.append(None if item is None else (item, len(run.stack) + (1 if saved else 0)))
    return out


async def general_checkpoints(store: Store, batch: Sequence[CheckpointStep]) -> list[str]:
    """What ``engine.checkpoint.apply`` does with each step (runs locked in id order)."""
    out = [""] * len(batch)
    async with store.tx() as s:
        for i in sorted(range(len(batch)), key=lambda i: batch[i].run_id):
            c = batch[i]
            run = await s.lock_run(c.run_id)
            if run is None:
                out[i] = "no_run"
                continue
            if run.status is not RunStatus.RUNNING:
                out[i] = f"not_running:{run.status.value}"
                continue
            item = await s.get_item(c.item_id)
            if item is None or item.run_id != c.run_id or item.attempt != c.attempt:
                out[i] = "stale_call"
                continue
            await s.complete_step(
                c.run_id,
                c.step,
                name=c.name,
                op=c.op,
                memo=loads(c.memo),
                status=StepStatus.COMPLETED,
                now=c.now,
                started_at=c.started_at,
                attempts=item.attempt + 1,
            )
            out[i] = "saved"
    return out


def paths(store: Store) -> dict[str, tuple[StepsDone, Checkpoints]]:
    """The general path, the Python fast paths, and the store's own where it has them."""
    found: dict[str, tuple[StepsDone, Checkpoints]] = {
        "general": (general_steps_done, general_checkpoints),
        "python": (Store.steps_done, Store.save_checkpoints),
    }
    own = type(store)
    if own.steps_done is not Store.steps_done or own.save_checkpoints is not Store.save_checkpoints:
        found[store.kind] = (own.steps_done, own.save_checkpoints)
    return found


async def dump(store: Store, ids: list[int]) -> Rows:
    """Every row the paths write; queue ids as their position in the seed."""
    rank = {item_id: i for i, item_id in enumerate(ids)}
    async with store.read() as r:
        runs = await r.c.fetch(f"SELECT {RUN_COLS} FROM runs ORDER BY id")
        steps = await r.c.fetch(f"SELECT {STEP_COLS} FROM steps ORDER BY run_id, hash")
        queue = await r.c.fetch(
            "SELECT id, run_id, kind, step, payload, attempt, due_at, lease_owner, dedupe_key, "
            "ckey FROM queue ORDER BY id"
        )
        attempts = await r.c.fetch(
            "SELECT run_id, hash, attempt, started_at, ended_at, error FROM step_attempts "
            "ORDER BY run_id, hash, attempt, ended_at"
        )
    return {
        "runs": [tuple(x) for x in runs],
        "steps": [tuple(x) for x in steps],
        "queue": [(rank[x[0]], *x[1:]) for x in queue],
        "step_attempts": [tuple(x) for x in attempts],
    }


def plain(result: tuple[QueueItem, int] | None, ids: list[int]) -> Any:
    if result is None:
        return None
    item, stack_len = result
    return (ids.index(item.id), item.run_id, item.kind, item.step, item.due_at, stack_len)


@pytest.mark.parametrize("seed_no", SEEDS)
async def test_every_path_leaves_the_same_rows(store: Store, seed_no: int) -> None:
    start = scenario(seed_no)
    seen: dict[str, tuple[Rows, list[Any]]] = {}
    for name, (steps_done, save_checkpoints) in paths(store).items():
        rnd = random.Random(seed_no)  # the same batches on every path
        ids = await seed(store, start)
        results: list[Any] = []
        for n in range(4):
            if rnd.random() < 0.5:
                done = await steps_done(store, answers(rnd, ids, start, n))
                results.append([plain(r, ids) for r in done])
            else:
                results.append(await save_checkpoints(store, checkpoints(rnd, ids, start, n)))
        seen[name] = (await dump(store, ids), results)
    general = seen.pop("general")
    for name, found in seen.items():
        assert found[1] == general[1], f"{name}: results differ"
        assert found[0] == general[0], f"{name}: rows differ"


async def test_the_batches_reach_every_outcome(memory_store: Store) -> None:
    """The random batches are worth comparing: between them they save steps, find steps
    already done, and meet runs that are not running, missing items and stale calls."""
    outcomes: set[str] = set()
    for seed_no in SEEDS:
        start = scenario(seed_no)
        rnd = random.Random(seed_no)
        ids = await seed(memory_store, start)
        for n in range(4):
            if rnd.random() < 0.5:
                batch = answers(rnd, ids, start, n)
                done_before = {(r, h) for r, h, *_ in start["steps"] if _[-1] == 1}
                if any((d.run_id, d.step) in done_before for d in batch):
                    outcomes.add("already_done")
                for r in await Store.steps_done(memory_store, batch):
                    outcomes.add("step_done" if r is not None else "step_done:none")
            else:
                for o in await Store.save_checkpoints(
                    memory_store, checkpoints(rnd, ids, start, n)
                ):
                    outcomes.add(o.split(":")[0])
    assert outcomes >= {
        "step_done",
        "step_done:none",
        "saved",
        "not_running",
        "stale_call",
        "already_done",
    }
