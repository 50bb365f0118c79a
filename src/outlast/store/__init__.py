"""Persistence: one Store interface, implemented for SQLite and PostgreSQL.

All database access goes through :class:`~outlast.store.base.Session`, whose SQL is
written once; the per-database modules only open connections and speak their dialect.
"""

from outlast.store.base import NewItem, NewRun, Session, Store

__all__ = ["NewItem", "NewRun", "Session", "Store"]
