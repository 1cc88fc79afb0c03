"""Straight-to-the-driver reads and writes for the few statements every batch runs many times.

SQLAlchemy's per-row processing is the biggest cost of a batch when rows are small; these
helpers skip it and convert the two column types that need it (JSON and ``UTCDateTime``) the
same way on SQLite (text) and PostgreSQL (native values).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from engine.store.models import UTCDateTime

_UTC_TIME = UTCDateTime()


def placeholders(conn: Connection, statement: str) -> str:
    """``statement`` written with ``?`` in the driver's own parameter style."""
    return statement if conn.dialect.paramstyle == "qmark" else statement.replace("?", "%s")


def fetch(conn: Connection, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    result = conn.exec_driver_sql(placeholders(conn, statement), tuple(params))
    return [tuple(row) for row in result.fetchall()]


def execute_many(conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """executemany with ``?`` placeholders."""
    if rows:
        conn.exec_driver_sql(placeholders(conn, statement), list(rows))


def marks(count: int) -> str:
    """``?, ?, ?`` for an IN list of ``count`` values."""
    return ", ".join("?" * count)


def json_value(value: Any) -> Any:
    """A JSON column's value: text on SQLite, already decoded on PostgreSQL."""
    if isinstance(value, str | bytes):
        return {} if value in ("{}", b"{}") else json.loads(value)
    return value


def time_value(value: Any) -> datetime | None:
    """A ``UTCDateTime`` column's value as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        return _parse_time(value)
    result: datetime = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return result


@lru_cache(maxsize=4096)
def _parse_time(text: str) -> datetime:
    """Times read in a batch are mostly the same few (the moments batches ran): parse each
    once. Datetimes are immutable, so sharing them is safe."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_param(conn: Connection, moment: datetime | None) -> Any:
    """A time as the driver takes it for a ``UTCDateTime`` column (see models.py)."""
    return _UTC_TIME.process_bind_param(moment, conn.dialect)


def encoder(conn: Connection, column: Any) -> Callable[[Any], Any]:
    """How the driver takes a value for ``column`` (for a JSON column, its text), exactly as
    an ordinary insert would write it."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process or _as_is


def _as_is(value: Any) -> Any:
    return value


def insert_ignore(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, skipping those that would break a unique constraint (a concurrent writer
    got there first)."""
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))


def allocate_ids(conn: Connection, table: str, column: str, count: int) -> list[int]:
    """``count`` new ids for ``table``, so rows can be inserted in bulk with their ids known
    (no row-at-a-time RETURNING). SQLite: after the largest ever given (the caller holds the
    write lock); PostgreSQL: from the column's sequence."""
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', '{column}')) "
            "FROM generate_series(1, %s)",
            (count,),
        ).fetchall()
        return [int(r[0]) for r in rows]
    top = conn.exec_driver_sql(f"SELECT max({column}) FROM {table}").scalar() or 0
    if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first():
        used = conn.exec_driver_sql(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)
        ).scalar()
        top = max(top, used or 0)
    return list(range(top + 1, top + count + 1))
