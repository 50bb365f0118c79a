"""What the dashboard shows beyond runs, steps and events: why events started no run, run
counts per function (migration 0007; failed step attempts are with the steps, in ``runs``),
and a function's flow-control state right now.

Flow-control rows are found by their key's prefix (``engine.flow`` starts every key with
the function's id or its constraint, then the evaluated key value). Each read scans a
bounded run of an index from the prefix on and keeps the rows that start with it, so a
page costs the same with a million keys of other functions: no ``LIKE`` (PostgreSQL cannot
answer it from a b-tree outside the C collation) and no unbounded ``COUNT``. In byte order
(SQLite; PostgreSQL with the C collation) the keys with a prefix come first and together;
a linguistic collation may order some of them elsewhere, and the page can then miss them,
never slow down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from outlast.domain import EventSkip, FunctionStats, QueueKind, RunStatus, SkipReason
from outlast.store.conn import Row
from outlast.store.rows import Queries

#: Rows per multi-row INSERT (4 parameters each) and values per ``IN (...)`` list:
#: far under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 250
#: Concurrency keys whose waiting calls one statement counts (3 parameters each).
_KEYS_PER_STATEMENT = 50

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Bounded(Generic[T]):
    """Up to a limit of rows, and whether the store holds more than were read."""

    rows: list[T]
    more: bool


@dataclass(frozen=True, slots=True)
class KeyLoad:
    """The calls (queue items of kind discover / step) of one concurrency key right now."""

    key: str
    #: The largest limit its calls carry (each run keeps the limit it started with); None
    #: when no call was read (never, for a key listed).
    limit: int | None
    #: Leased and unexpired: executing in the app.
    in_flight: int
    #: Ready (due) and not leased: waiting for a slot.
    waiting: int
    #: ``waiting`` stopped at the count's cap: there may be more.
    waiting_capped: bool

    @property
    def load(self) -> int:
        return self.in_flight + self.waiting


@dataclass(frozen=True, slots=True)
class GcraRow:
    """A throttle / rate-limit key's theoretical arrival time (None: never used)."""

    key: str
    tat: int | None


@dataclass(frozen=True, slots=True)
class DebounceDue:
    """A pending debounce: its run starts at ``due_at`` with event ``event_id``."""

    key: str
    event_id: str
    first_at: int
    due_at: int


@dataclass(frozen=True, slots=True)
class BatchRow:
    """An open event batch of a function."""

    id: str
    key: str
    size: int
    bytes: int
    created_at: int


@dataclass(frozen=True, slots=True)
class SingletonHolder:
    """A singleton key and the unfinished run holding it (its status: None when the run
    row is gone, which the engine never leaves behind)."""

    key: str
    run_id: str
    status: RunStatus | None


# The distinct concurrency keys from ``prefix`` on, one index probe each (a loose index
# scan: reading the rows in between would cost one per queued call), stopping at the
# first key without the prefix or after ``walk`` keys.
_WALK_KEYS = """
WITH RECURSIVE found(k, n) AS (
    SELECT (SELECT ckey FROM queue WHERE ckey IS NOT NULL AND ckey >= ?
            ORDER BY ckey LIMIT 1), 1
    UNION ALL
    SELECT (SELECT q.ckey FROM queue q WHERE q.ckey IS NOT NULL AND q.ckey > found.k
            ORDER BY q.ckey LIMIT 1), found.n + 1
    FROM found WHERE substr(found.k, 1, ?) = ? AND found.n < ?
)
SELECT k FROM found WHERE substr(k, 1, ?) = ?
"""
# One key's waiting calls, counted up to a cap from the (ckey, due_at, id) index; by
# second key, for a function with two constraints.
_WAITING = (
    "SELECT ckey, ckey2, MAX(climit), MAX(climit2), COUNT(*) FROM ("
    "SELECT ckey, ckey2, climit, climit2 FROM queue WHERE ckey = ? AND due_at <= ? "
    "ORDER BY due_at, id LIMIT ?) AS w{i} GROUP BY ckey, ckey2"
)


class DashboardQueries(Queries):
    # -- events that started no run ---------------------------------------------------------

    async def insert_event_skips(self, skips: Sequence[EventSkip]) -> None:
        """Record why events started no run; nothing at all (no statement) for none. A later
        reason for the same event and function replaces the earlier one."""
        if not skips:
            return
        # One row per (event, function) in a statement: PostgreSQL refuses an upsert that
        # touches a row twice. The last reason wins, as it would one statement at a time.
        unique = list({(k.event_id, k.function_id): k for k in skips}.values())
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            rows = ", ".join("(?, ?, ?, ?)" for _ in chunk)
            args = [
                value for k in chunk for value in (k.event_id, k.function_id, k.reason.value, k.at)
            ]
            await self.c.execute(
                f"INSERT INTO event_skips (event_id, function_id, reason, at) VALUES {rows} "
                "ON CONFLICT (event_id, function_id) DO UPDATE SET reason = excluded.reason, "
                "at = excluded.at",
                args,
            )

    async def delete_event_skips(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Forget why (event, function) pairs started no run: they have one now (a replay)."""
        if pairs:
            await self.c.executemany(
                "DELETE FROM event_skips WHERE event_id = ? AND function_id = ?", pairs
            )

    async def list_event_skips(self, event_ids: Sequence[str]) -> list[EventSkip]:
        """Why each of these events (internal ids) started no run of a function, by event
        then function."""
        found: list[EventSkip] = []
        ids = list(dict.fromkeys(_ids(event_ids, "event_ids")))
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.c.fetch(
                "SELECT event_id, function_id, reason, at FROM event_skips "
                f"WHERE event_id IN ({marks}) ORDER BY event_id, function_id",
                chunk,
            )
            found += [EventSkip(r[0], r[1], SkipReason(r[2]), int(r[3])) for r in rows]
        return sorted(found, key=lambda k: (k.event_id, k.function_id))

    # -- run counts -------------------------------------------------------------------------

    async def function_stats(
        self, function_ids: Sequence[str], since: int
    ) -> dict[str, FunctionStats]:
        """Runs of each function queued at or after ``since`` (ms), by outcome; a function
        with none has all zeros. Counted from the (function_id, queued_at, status) index
        alone, in its order (grouped by function only: no sort of the rows counted)."""
        found = {fid: FunctionStats(0, 0, 0, 0, 0) for fid in _ids(function_ids, "function_ids")}
        ids = list(found)
        ended = (RunStatus.COMPLETED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.c.fetch(
                "SELECT function_id, COUNT(*), "
                "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) FROM runs "
                f"WHERE function_id IN ({marks}) AND queued_at >= ? GROUP BY function_id",
                (*ended, *chunk, since),
            )
            for fid, total, completed, failed, cancelled in rows:
                found[fid] = FunctionStats(
                    total=int(total),
                    completed=int(completed),
                    failed=int(failed),
                    cancelled=int(cancelled),
                    # Queued and running: the REST API shows both as Running.
                    running=int(total) - int(completed) - int(failed) - int(cancelled),
                )
        return found

    # -- flow control now -------------------------------------------------------------------

    async def concurrency_load(
        self, prefixes: Sequence[str], now: int, *, walk: int = 50, cap: int = 1000
    ) -> Bounded[KeyLoad]:
        """The concurrency keys starting with one of ``prefixes`` that have calls in flight
        or waiting, with their counts, busiest first. Bounded: every call in flight (there
        are at most as many as the limits allow), the first ``walk`` keys of each prefix,
        and up to ``cap`` waiting calls per key (``waiting_capped`` says the count stopped).
        ``more``: a prefix has more keys than were walked.

        A key of a second constraint (``ckey2``, not indexed) is found through the calls in
        flight and the waiting calls of the first constraint's keys read here."""
        prefixes = list(dict.fromkeys(p for p in _ids(prefixes, "prefixes") if p))
        if not prefixes:
            return Bounded([], False)
        in_flight: dict[str, int] = defaultdict(int)
        limits: dict[str, int] = {}
        for k1, l1, k2, l2 in await self._calls_in_flight(prefixes, now):
            for key, limit in ((k1, l1), (k2, l2)):
                if key is not None and _starts(key, prefixes):
                    in_flight[key] += 1
                    limits[key] = max(limits.get(key, 0), int(limit))
        keys: list[str] = []
        more = False
        for prefix in prefixes:
            rows = await self.c.fetch(
                _WALK_KEYS, (prefix, len(prefix), prefix, walk + 1, len(prefix), prefix)
            )
            found = [str(r[0]) for r in rows]
            more = more or len(found) > walk
            keys += found[:walk]
        keys += [k for k in in_flight if k not in keys]  # leased calls of a second key
        groups = await self._waiting(list(dict.fromkeys(keys)), now, cap)
        sampled: dict[str, int] = defaultdict(int)
        for k1, _k2, _l1, _l2, n in groups:
            sampled[k1] += int(n)
        # A key's count stopped at the cap; so may its calls' second keys' counts.
        capped = {k for k, n in sampled.items() if n >= cap}
        waiting: dict[str, int] = defaultdict(int)
        for k1, k2, l1, l2, n in groups:
            for key, limit in ((k1, l1), (k2, l2)):
                if key is not None and _starts(key, prefixes):
                    waiting[key] += int(n)
                    limits[key] = max(limits.get(key, 0), int(limit))
                    if k1 in capped:
                        capped.add(key)
        loads = [
            KeyLoad(k, limits.get(k), in_flight[k], waiting[k], k in capped)
            for k in dict.fromkeys([*in_flight, *waiting])
        ]
        loads.sort(key=lambda x: (-x.load, x.key))
        return Bounded(loads, more)

    async def _calls_in_flight(self, prefixes: list[str], now: int) -> list[Row]:
        # The leased, unexpired calls: the rows leasing counts as busy (store.leasing).
        match = " OR ".join("substr(ckey, 1, ?) = ? OR substr(ckey2, 1, ?) = ?" for _ in prefixes)
        args: list[object] = [now, QueueKind.DISCOVER.value, QueueKind.STEP.value]
        for p in prefixes:
            args += [len(p), p, len(p), p]
        return await self.c.fetch(
            "SELECT ckey, climit, ckey2, climit2 FROM queue WHERE ckey IS NOT NULL "
            f"AND lease_owner IS NOT NULL AND due_at > ? AND kind IN (?, ?) AND ({match})",
            args,
        )

    async def _waiting(self, keys: list[str], now: int, cap: int) -> list[Row]:
        rows: list[Row] = []
        for i in range(0, len(keys), _KEYS_PER_STATEMENT):
            chunk = keys[i : i + _KEYS_PER_STATEMENT]
            sql = " UNION ALL ".join(_WAITING.format(i=j) for j in range(len(chunk)))
            rows += await self.c.fetch(sql, [v for k in chunk for v in (k, now, cap)])
        return rows

    async def gcra_rows(self, prefix: str, limit: int) -> Bounded[GcraRow]:
        """The throttle / rate-limit keys starting with ``prefix``, in key order."""
        rows = await self._by_prefix("key, tat", "gcra", "key", prefix, limit)
        found = [GcraRow(r[0], None if int(r[1]) < 0 else int(r[1])) for r in rows]
        return Bounded(found[:limit], len(found) > limit)

    async def debounces_due(
        self, prefix: str, function_id: str, limit: int
    ) -> Bounded[DebounceDue]:
        """A function's pending debounces (keys starting with ``prefix``), in key order."""
        rows = await self._by_prefix(
            "key, function_id, event_id, first_at, due_at", "debounces", "key", prefix, limit
        )
        found = [DebounceDue(r[0], r[2], int(r[3]), int(r[4])) for r in rows if r[1] == function_id]
        return Bounded(found[:limit], len(found) > limit)

    async def singleton_holders(
        self, prefix: str, function_id: str, limit: int
    ) -> Bounded[SingletonHolder]:
        """The singleton keys starting with ``prefix`` held by a run of ``function_id``
        (the prefix alone could be another function's whose id continues this one's), in
        key order."""
        rows = await self._by_prefix("key, run_id", "singletons", "key", prefix, limit)
        runs: dict[str, tuple[str, str]] = {}
        if rows:
            marks = ", ".join("?" for _ in rows)
            found = await self.c.fetch(
                f"SELECT id, function_id, status FROM runs WHERE id IN ({marks})",
                [r[1] for r in rows],
            )
            runs = {r[0]: (r[1], r[2]) for r in found}
        holders = [
            SingletonHolder(key, run_id, RunStatus(runs[run_id][1]) if run_id in runs else None)
            for key, run_id in rows
            if runs.get(run_id, (function_id, ""))[0] == function_id
        ]
        return Bounded(holders[:limit], len(holders) > limit)

    async def open_batches(self, function_id: str, limit: int) -> Bounded[BatchRow]:
        """A function's open event batches, in batch-key order (its unique index)."""
        rows = await self.c.fetch(
            "SELECT id, batch_key, size, bytes, created_at FROM batches WHERE function_id = ? "
            "ORDER BY batch_key LIMIT ?",
            (function_id, limit + 1),
        )
        found = [BatchRow(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]
        return Bounded(found[:limit], len(found) > limit)

    async def _by_prefix(
        self, cols: str, table: str, key: str, prefix: str, limit: int
    ) -> list[Row]:
        # The first limit + 1 rows from the prefix on in the key's index, of which those
        # with the prefix: in byte order (SQLite, or PostgreSQL's C collation) they come
        # first, so more than ``limit`` of them means more exist.
        return await self.c.fetch(
            f"SELECT {cols} FROM (SELECT {cols} FROM {table} WHERE {key} >= ? "
            f"ORDER BY {key} LIMIT ?) AS p WHERE substr({key}, 1, ?) = ? ORDER BY {key}",
            (prefix, limit + 1, len(prefix), prefix),
        )


def _starts(key: str, prefixes: Sequence[str]) -> bool:
    return any(key.startswith(p) for p in prefixes)


def _ids(values: Sequence[str], what: str) -> Sequence[str]:
    # A lone string is a Sequence[str] too: it would be looked up one character at a time.
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of ids, not one string")
    return values
