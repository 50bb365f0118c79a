"""The schema's two dialects do not drift: an empty SQLite and an empty PostgreSQL
database migrated to head have the same tables, columns (types mapped), keys, indexes and
constraints, and record the same migrations. Every difference that remains is listed in
``EXPLAINED`` with the reason it is harmless; anything else fails."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

from outlast.store.migrations import migrations
from outlast.store.postgres import PostgresStore
from outlast.store.sqlite import SQLiteStore
from tests.conftest import POSTGRES_URI, drop_schema, new_schema, require_postgres

#: A column's type, as the store uses it: SQLite's declared type -> PostgreSQL's.
#: (A PostgreSQL ``integer`` would be a drift: SQLite's INTEGER holds 64 bits.)
TYPES = {"TEXT": "text", "INTEGER": "bigint", "BIGINT": "bigint"}

#: Differences that are known and harmless: what differs -> why.
EXPLAINED = {
    "schema_migrations.version: id=rowid != None": (
        "SQLite makes an INTEGER PRIMARY KEY the rowid; versions are always given"
    ),
    "step_attempts.id: id=rowid != identity": (
        "SQLite may reuse the newest id after it is deleted (no AUTOINCREMENT); ids only "
        "break ties between attempts of one step ended at the same millisecond, and "
        "changing it would rebuild the table on existing databases"
    ),
}

Schema = dict[str, Any]


def _default(value: str | None) -> str | None:
    """A column default without PostgreSQL's casts: ``'[]'::text`` -> ``'[]'``."""
    return None if value is None else re.sub(r"::[a-z ]+$", "", value)


def _predicate(value: str | None) -> str | None:
    """A partial index's WHERE clause, spelled alike: lower case, no outer parentheses."""
    if value is None:
        return None
    value = " ".join(value.lower().split())
    while value.startswith("(") and value.endswith(")"):
        value = value[1:-1].strip()
    return value


def sqlite_schema(path: Path) -> Schema:
    db = sqlite3.connect(path)
    try:
        out: Schema = {}
        tables = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        for table, table_sql in tables:
            cols: dict[str, Any] = {}
            pk: list[tuple[int, str]] = []
            for _cid, name, ctype, notnull, dflt, pk_pos, _hidden in db.execute(
                f"PRAGMA table_xinfo({table})"
            ):
                auto = None
                if pk_pos and ctype.upper() == "INTEGER" and _sole_pk(db, table):
                    auto = "identity" if "AUTOINCREMENT" in table_sql.upper() else "rowid"
                cols[name] = {
                    "type": TYPES.get(ctype.upper(), ctype),
                    # SQLite lets a PRIMARY KEY column hold NULL unless told otherwise (a
                    # legacy quirk); the store never writes one: count it as NOT NULL.
                    "not_null": bool(notnull or pk_pos),
                    "default": _default(dflt),
                    "id": auto,
                }
                if pk_pos:
                    pk.append((pk_pos, name))
            unique: set[tuple[str, ...]] = set()
            indexes: dict[str, Any] = {}
            for _seq, index, is_unique, origin, _partial in db.execute(
                f"PRAGMA index_list({table})"
            ):
                columns = tuple(r[2] for r in db.execute(f"PRAGMA index_info({index})"))
                if origin == "u":
                    unique.add(columns)
                elif origin == "c":
                    row = db.execute(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                        (index,),
                    ).fetchone()
                    where = re.search(r"\bWHERE\b(.*)$", row[0], re.I | re.S)
                    indexes[index] = {
                        "columns": columns,
                        "unique": bool(is_unique),
                        "where": _predicate(where.group(1) if where else None),
                    }
            foreign = sorted(
                (r[3], r[2], r[4]) for r in db.execute(f"PRAGMA foreign_key_list({table})")
            )
            out[table] = {
                "columns": cols,
                "primary_key": tuple(name for _pos, name in sorted(pk)),
                "unique": unique,
                "indexes": indexes,
                "foreign_keys": foreign,
                "checks": len(re.findall(r"\bCHECK\s*\(", table_sql, re.I)),
            }
        out["<migrations>"] = [
            tuple(r) for r in db.execute("SELECT version, name FROM schema_migrations ORDER BY 1")
        ]
        return out
    finally:
        db.close()


def _sole_pk(db: sqlite3.Connection, table: str) -> bool:
    return sum(1 for r in db.execute(f"PRAGMA table_info({table})") if r[5]) == 1


async def postgres_schema(schema: str) -> Schema:
    conn = await asyncpg.connect(POSTGRES_URI)
    try:
        out: Schema = {}
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "is_identity FROM information_schema.columns WHERE table_schema = $1 "
            "ORDER BY table_name, ordinal_position",
            schema,
        )
        for r in columns:
            table = out.setdefault(
                r["table_name"],
                {
                    "columns": {},
                    "primary_key": (),
                    "unique": set(),
                    "indexes": {},
                    "foreign_keys": [],
                    "checks": 0,
                },
            )
            table["columns"][r["column_name"]] = {
                "type": r["data_type"],
                "not_null": r["is_nullable"] == "NO",
                "default": _default(r["column_default"]),
                "id": "identity" if r["is_identity"] == "YES" else None,
            }
        constraints = await conn.fetch(
            "SELECT t.relname AS table_name, c.contype::text AS contype, c.conindid, "
            "ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n "
            "ORDER BY k.i) AS columns, "
            "ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i) "
            "JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n "
            "ORDER BY k.i) AS ref_columns, f.relname AS ref_table "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "LEFT JOIN pg_class f ON f.oid = c.confrelid WHERE n.nspname = $1",
            schema,
        )
        backing = set()
        for r in constraints:
            table = out[r["table_name"]]
            if r["contype"] == "p":
                table["primary_key"] = tuple(r["columns"])
            elif r["contype"] == "u":
                table["unique"].add(tuple(r["columns"]))
            elif r["contype"] == "f":
                for col, ref in zip(r["columns"], r["ref_columns"], strict=True):
                    table["foreign_keys"].append((col, r["ref_table"], ref))
                table["foreign_keys"].sort()
            elif r["contype"] == "c":
                table["checks"] += 1
            if r["conindid"]:
                backing.add(r["conindid"])
        indexes = await conn.fetch(
            "SELECT t.relname AS table_name, i.relname AS index_name, x.indexrelid, "
            "x.indisunique, pg_get_expr(x.indpred, x.indrelid) AS predicate, "
            "ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(n, i) "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n "
            "ORDER BY k.i) AS columns "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1",
            schema,
        )
        for r in indexes:
            if r["indexrelid"] in backing:
                continue  # a primary key's or a UNIQUE constraint's: compared as those
            out[r["table_name"]]["indexes"][r["index_name"]] = {
                "columns": tuple(r["columns"]),
                "unique": r["indisunique"],
                "where": _predicate(r["predicate"]),
            }
        out["<migrations>"] = [
            tuple(r)
            for r in await conn.fetch(
                f"SELECT version, name FROM {schema}.schema_migrations ORDER BY 1"
            )
        ]
        return out
    finally:
        await conn.close()


def differences(lite: Schema, pg: Schema) -> list[str]:
    """Every way the two schemas differ, one line each (SQLite's side first)."""
    out: list[str] = []
    for table in sorted(lite.keys() | pg.keys()):
        if table not in pg or table not in lite:
            out.append(f"{table}: only in {'sqlite' if table in lite else 'postgres'}")
            continue
        a, b = lite[table], pg[table]
        if table == "<migrations>":
            if a != b:
                out.append(f"migrations applied: {a} != {b}")
            continue
        for col in sorted(a["columns"].keys() | b["columns"].keys()):
            ca, cb = a["columns"].get(col), b["columns"].get(col)
            if ca is None or cb is None:
                out.append(f"{table}.{col}: only in {'sqlite' if cb is None else 'postgres'}")
                continue
            out += [f"{table}.{col}: {k}={ca[k]} != {cb[k]}" for k in sorted(ca) if ca[k] != cb[k]]
        for key in ("primary_key", "unique", "foreign_keys", "checks"):
            if a[key] != b[key]:
                out.append(f"{table}: {key} {a[key]} != {b[key]}")
        for index in sorted(a["indexes"].keys() | b["indexes"].keys()):
            ia, ib = a["indexes"].get(index), b["indexes"].get(index)
            if ia != ib:
                out.append(f"{table}: index {index} {ia} != {ib}")
    return out


async def test_sqlite_and_postgres_migrate_to_the_same_schema(tmp_path: Path) -> None:
    require_postgres()
    path = tmp_path / "outlast.db"
    async with SQLiteStore(path):
        pass
    schema = new_schema()
    try:
        async with PostgresStore(POSTGRES_URI, schema=schema, min_size=1, max_size=1):
            pass
        found = differences(sqlite_schema(path), await postgres_schema(schema))
    finally:
        await drop_schema(schema)
    assert [d for d in found if d not in EXPLAINED] == []
    # An explanation whose difference is gone is stale: remove it.
    assert sorted(EXPLAINED) == sorted(d for d in found if d in EXPLAINED)


def test_both_databases_have_the_same_migration_files() -> None:
    """A version means the same change on both (one that only one database needs is an
    empty file on the other)."""
    names = {kind: [name for _v, name, _sql in migrations(kind)] for kind in ("sqlite", "postgres")}
    assert names["sqlite"] == names["postgres"]


def test_the_comparison_sees_a_drift() -> None:
    """The test above would fail on a difference: a column of another type, a missing
    index, a partial index's condition."""
    lite = {
        "t": {
            "columns": {"a": {"type": "bigint", "not_null": True, "default": None, "id": None}},
            "primary_key": ("a",),
            "unique": set(),
            "indexes": {"t_a": {"columns": ("a",), "unique": False, "where": "a is null"}},
            "foreign_keys": [],
            "checks": 0,
        }
    }
    pg: Schema = {
        "t": {
            **lite["t"],
            "columns": {"a": {"type": "integer", "not_null": True, "default": None, "id": None}},
            "indexes": {"t_a": {"columns": ("a",), "unique": False, "where": "a is not null"}},
        }
    }
    assert differences(lite, pg) == [
        "t.a: type=bigint != integer",
        "t: index t_a {'columns': ('a',), 'unique': False, 'where': 'a is null'} != "
        "{'columns': ('a',), 'unique': False, 'where': 'a is not null'}",
    ]
