"""The examples' application database: a small SQLite file standing in for your own.

Functions keep their domain records here (scheduled actions, mailboxes, skill runs,
campaigns) and append to a journal what they did, so the demo and the tests can see
every side effect, including how many times each one ran.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any


def path() -> Path:
    return Path(os.environ.get("OUTLAST_EXAMPLES_DB", ".outlast/examples.db"))


def _connect() -> sqlite3.Connection:
    p = path()
    p.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(p, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS records (kind TEXT, id TEXT, data TEXT, PRIMARY KEY (kind, id))"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS journal "
        "(seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL, kind TEXT, key TEXT, what TEXT)"
    )
    return conn


def put(kind: str, id: str, data: dict[str, Any]) -> None:
    with _connect() as conn:
        conn.execute(
            "INSERT INTO records (kind, id, data) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data",
            (kind, id, json.dumps(data)),
        )


def get(kind: str, id: str) -> dict[str, Any] | None:
    with _connect() as conn:
        row = conn.execute(
            "SELECT data FROM records WHERE kind = ? AND id = ?", (kind, id)
        ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def update(kind: str, id: str, **changes: Any) -> dict[str, Any]:
    data = get(kind, id) or {}
    data.update(changes)
    put(kind, id, data)
    return data


def all_of(kind: str) -> list[dict[str, Any]]:
    with _connect() as conn:
        rows = conn.execute(
            "SELECT data FROM records WHERE kind = ? ORDER BY id", (kind,)
        ).fetchall()
    return [dict(json.loads(r[0])) for r in rows]


def log(kind: str, key: str, what: str) -> None:
    """Append one side effect to the journal."""
    with _connect() as conn:
        conn.execute(
            "INSERT INTO journal (at, kind, key, what) VALUES (?, ?, ?, ?)",
            (time.time(), kind, key, what),
        )


def journal(kind: str | None = None, key: str | None = None) -> list[str]:
    """What happened, in order: ``what`` of each matching journal line."""
    sql = "SELECT what FROM journal WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR key = ?)"
    with _connect() as conn:
        rows = conn.execute(sql + " ORDER BY seq", (kind, kind, key, key)).fetchall()
    return [r[0] for r in rows]
