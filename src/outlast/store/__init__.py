"""Persistence: one Store interface, implemented for SQLite and PostgreSQL.

All database access goes through a :class:`Session` (``session``; its queries grouped by
what they touch, in ``apps``, ``events``, ``runs``, ``queue`` ...), whose SQL is written
once for both databases; where they differ, it asks the
:class:`~outlast.store.dialect.Dialect` it was given (``dialect``: placeholders, row locks,
JSON, the leasing lock). The per-database modules (``sqlite``, ``postgres``) open
connections, apply migrations, and override the hot batch writes where a database does
them faster (on PostgreSQL ``steps_done``, ``save_checkpoints`` and ``lease`` are one
round trip each). ``fast_paths`` holds the Python versions; ``step_finished`` the SQL
they share with the general path, which ``pg_functions`` renders into PostgreSQL's
functions. The schema is migrated per database (``migrations/<kind>``, the same versions
on both); a test compares the two migrated schemas.
"""

from outlast.store.interface import Store
from outlast.store.rows import CheckpointStep, NewItem, NewRun, StepDone
from outlast.store.session import Session

__all__ = ["CheckpointStep", "NewItem", "NewRun", "Session", "StepDone", "Store"]
