"""Where SQLite and PostgreSQL differ, said in one place.

The store's SQL is written once, in the subset both databases speak (``?`` placeholders,
``INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING ... RETURNING``, which SQLite and
PostgreSQL spell the same). What remains is here: how placeholders are written, row
locks, appending to a JSON array held as text, and the lock that serialises the keyed part
of leasing across processes. A :class:`Dialect` is handed to every
:class:`~outlast.store.session.Session` and to ``leasing.lease``; nothing else in the store
asks which database it is on.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Advisory lock key serialising the concurrency-limited part of leasing across processes.
LEASE_LOCK = 7_271_830_118


class Dialect:
    """SQLite's answers; :class:`PostgresDialect` overrides where PostgreSQL differs."""

    #: The store kind that speaks it ("sqlite" or "postgres"): also its migrations' folder.
    name = "sqlite"
    #: Row-lock suffix for a SELECT whose decision the transaction acts on. PostgreSQL
    #: needs it so concurrent transactions on one row serialise; SQLite has one writer at a
    #: time already.
    for_update = ""
    #: Row-lock suffix that passes over rows another transaction holds (PostgreSQL).
    skip_locked = ""
    #: A statement run before the keyed part of leasing, which reads busy counts and then
    #: leases: two processes must not both see the same free slot. None where the write
    #: transaction is exclusive already (SQLite's ``BEGIN IMMEDIATE``).
    keyed_lease_lock: str | None = None

    def placeholders(self, sql: str) -> str:
        """``sql`` with its ``?`` placeholders as the driver wants them."""
        return sql

    def json_array_append(self, array: str, value: str) -> str:
        """An expression: the JSON array held as text in ``array``, with the string
        ``value`` (an SQL expression: a placeholder or a variable) appended."""
        return f"json_insert({array}, '$[#]', {value})"


class PostgresDialect(Dialect):
    name = "postgres"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    keyed_lease_lock = f"SELECT pg_advisory_xact_lock({LEASE_LOCK})"

    def placeholders(self, sql: str) -> str:
        """``$1, $2, ...`` for ``?`` (the store's SQL has no literal '?')."""
        return _numbered(sql)

    def json_array_append(self, array: str, value: str) -> str:
        return f"({array}::jsonb || jsonb_build_array({value}::text))::text"


@lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


SQLITE = Dialect()
POSTGRES = PostgresDialect()
