"""Straight-to-the-driver reads and writes for the few statements every batch runs many times.

SQLAlchemy's per-row processing is the biggest cost of a batch when rows are small; these
helpers skip it and convert the two column types that need it (JSON and ``UTCDateTime``) the
same way on SQLite (text) and PostgreSQL (native values).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from itertools import count
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import ARRAY, ColumnElement, Connection, Table, any_, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import NullType

from engine.store.models import UTCDateTime
from engine.store.textcheck import loads_servable

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

_UTC_TIME = UTCDateTime()


def placeholders(conn: Connection, statement: str) -> str:
    """``statement`` written with ``?`` in the driver's own parameter style."""
    return statement if conn.dialect.paramstyle == "qmark" else statement.replace("?", "%s")


def fetch(conn: Connection, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` (``?`` parameters) as the driver gives them: tuples, read
    from its cursor (SQLAlchemy's rows of driver SQL hold the same values and cost more to
    make than the database's reading of them; ``streamed`` for reads too big to hold)."""
    result = conn.exec_driver_sql(placeholders(conn, statement), tuple(params))
    with _driver_errors(conn, statement):
        rows = list(result.cursor.fetchall())
    result.close()
    return rows


def streamed(
    conn: Connection, statement: str, params: Mapping[str, Any], chunk: int
) -> Generator[list[tuple[Any, ...]], None, None]:
    """The rows of ``statement`` (SQL with ``:name`` parameters) straight from the driver, in
    chunks of at most ``chunk``: one statement however many rows, PostgreSQL through a
    server-side cursor (the client holds one chunk at a time), SQLite as its cursor steps.
    For reads of many rows (a segment's export): SQLAlchemy's result rows cost more than the
    database's reading of them. Values come as the driver gives them (see ``json_value``,
    ``time_value``); errors as SQLAlchemy's, as from any other statement."""
    compiled = text(statement).compile(dialect=conn.dialect)
    values = compiled.construct_params(dict(params))
    names = compiled.positiontup
    args = tuple(values[name] for name in names) if names else values
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cursor = driver.cursor(name=f"sluis_streamed_{next(_CURSORS)}")
    else:
        cursor = driver.cursor()
    try:
        with _driver_errors(conn, compiled.string):
            cursor.execute(compiled.string, args)
            rows = cursor.fetchmany(chunk)
        while rows:
            yield rows
            with _driver_errors(conn, compiled.string):
                rows = cursor.fetchmany(chunk)
    finally:
        cursor.close()  # also when the caller stops early


_CURSORS = count(1)  # names of server-side cursors, unique in the process


@contextmanager
def _driver_errors(conn: Connection, statement: str) -> Iterator[None]:
    """The driver's errors as SQLAlchemy's (``DBAPIError`` and its kinds), as a statement
    run through SQLAlchemy raises them."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error, dialect=conn.dialect) from exc


def execute_many(conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """executemany with ``?`` placeholders."""
    if rows:
        conn.exec_driver_sql(placeholders(conn, statement), list(rows))


def insert_rows(
    conn: Connection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_conflicts: bool = False,
) -> int:
    """Insert ``rows`` (values of the columns ``names``, as the driver takes them); with
    ``skip_conflicts``, rows that would break a unique constraint are left out (a concurrent
    writer got there first). Returns how many went in.

    SQLite: executemany. PostgreSQL: ``COPY`` (psycopg's executemany sends a statement per
    row, and each costs the server and the client more than its row), through a staging
    table when conflicts are to be skipped."""
    if not rows:
        return 0
    columns = ", ".join(names)
    if conn.dialect.name != "postgresql":
        conflicts = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
        statement = f"INSERT INTO {table.name} ({columns}) VALUES ({marks(len(names))})"
        return int(conn.exec_driver_sql(statement + conflicts, list(rows)).rowcount)
    if not skip_conflicts:
        _copy(conn, table.name, names, rows)
        return len(rows)
    stage = staged(conn, table, names, rows)
    result = conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT DO NOTHING"
    )
    return int(result.rowcount)


def update_rows(
    conn: Connection,
    table: Table,
    names: Sequence[str],
    key: str,
    rows: Sequence[Sequence[Any]],
) -> None:
    """``UPDATE table SET names... WHERE key = ...``, a row per tuple (the values of
    ``names``, then the key's; keys unique). SQLite: executemany; PostgreSQL: the rows are
    copied into a staging table and joined in one UPDATE."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        sets = ", ".join(f"{name} = ?" for name in names)
        conn.exec_driver_sql(f"UPDATE {table.name} SET {sets} WHERE {key} = ?", list(rows))
        return
    stage = staged(conn, table, [*names, key], rows)
    sets = ", ".join(f"{name} = s.{name}" for name in names)
    conn.exec_driver_sql(
        f"UPDATE {table.name} SET {sets} FROM {stage} AS s WHERE {table.name}.{key} = s.{key}"
    )


def staged(
    conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> str:
    """PostgreSQL: ``rows`` copied into this session's staging table for those columns of
    ``table`` (a temporary table of the same column types, emptied at commit); its name."""
    columns = ", ".join(names)
    stage = f"sluis_stage_{table.name}_{zlib.crc32(columns.encode()):08x}"
    # created each time (a rolled-back transaction takes the creation with it) and emptied of
    # what an earlier write of this transaction staged; one round trip for both
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
        f"SELECT {columns} FROM {table.name} WITH NO DATA; DELETE FROM {stage}"
    )
    _copy(conn, stage, names, rows)
    return stage


def _copy(
    conn: Connection, target: str, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """PostgreSQL: ``COPY target (names) FROM STDIN`` with ``rows``, in the connection's
    transaction. Errors come as SQLAlchemy's (an ``IntegrityError`` for a duplicate key), as
    from any other statement."""
    statement = f"COPY {target} ({', '.join(names)}) FROM STDIN"
    with _driver_errors(conn, statement):
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def one_of(conn: Connection, expression: str, values: Sequence[Any]) -> tuple[str, Any]:
    """The condition that ``expression`` is one of ``values``, with its one parameter (``?``
    style): one statement however many values, set-based, where an ``IN (?, ?, ...)`` list
    would need a statement per few hundred. SQLite reads the values as a JSON array
    (``json_each``), PostgreSQL as an array."""
    if conn.dialect.name == "postgresql":
        return f"{expression} = ANY(?)", list(values)
    return f"{expression} IN (SELECT value FROM json_each(?))", json.dumps(list(values))


def ids_among(conn: Connection, column: str, name: str) -> str:
    """``one_of`` for statements with named parameters: the condition that ``column`` is one
    of the ids in parameter ``:name`` (its value made by ``id_list``)."""
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY(CAST(:{name} AS bigint[]))"
    return f"{column} IN (SELECT value FROM json_each(:{name}))"


def id_list(conn: Connection, ids: Sequence[int]) -> Any:
    """Ids as the one parameter ``ids_among`` reads: an array, or on SQLite a JSON array."""
    return list(ids) if conn.dialect.name == "postgresql" else json.dumps(list(ids))


@overload
def among(
    conn: Connection, column: str, values: Sequence[Any], size: int = ...
) -> Iterator[tuple[str, list[Any]]]: ...


@overload
def among(
    conn: Connection, column: ColumnElement[Any], values: Sequence[Any], size: int = ...
) -> Iterator[tuple[ColumnElement[bool], list[Any]]]: ...


def among(
    conn: Connection, column: str | ColumnElement[Any], values: Sequence[Any], size: int = 500
) -> Iterator[tuple[Any, list[Any]]]:
    """The condition that ``column`` is one of ``values``, with its parameters, in as few
    statements as the database takes well: PostgreSQL all at once as an array (``one_of``: an
    ``IN`` list of hundreds of values costs it ten times more to parse and plan), SQLite in
    ``IN`` lists of ``size`` (``one_of`` is its one-statement form, for lists of thousands).

    ``column`` is SQL text (the condition is text with ``?`` parameters) or a SQLAlchemy
    column or expression (the condition is an expression with its values bound; no
    parameters). The one way sluis matches a list of values, so no module chunks by hand."""
    if not isinstance(column, str):
        yield from _among_expression(conn, column, values, size)
        return
    if conn.dialect.name == "postgresql":
        if values:
            condition, param = one_of(conn, column, values)
            yield condition, [param]
        return
    for start in range(0, len(values), size):
        part = values[start : start + size]
        yield f"{column} IN ({marks(len(part))})", list(part)


def _among_expression(
    conn: Connection, column: ColumnElement[Any], values: Sequence[Any], size: int
) -> Iterator[tuple[ColumnElement[bool], list[Any]]]:
    # an expression of no known type (a function's) cannot be typed as an array: IN lists
    if conn.dialect.name == "postgresql" and not isinstance(column.type, NullType):
        if values:
            array = bindparam(None, list(values), type_=ARRAY(column.type))
            yield column == any_(array), []
        return
    for start in range(0, len(values), size):
        yield column.in_(list(values[start : start + size])), []


def marks(count: int) -> str:
    """``?, ?, ?`` for an IN list of ``count`` values."""
    return ", ".join("?" * count)


def json_value(value: Any) -> Any:
    """A JSON column's value: text on SQLite, already decoded on PostgreSQL."""
    if isinstance(value, str | bytes):
        return {} if value in ("{}", b"{}") else loads_servable(value)
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
    conn.execute(native_insert(conn, table).on_conflict_do_nothing(), list(rows))


def native_insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The database's own INSERT (it has ``ON CONFLICT``). Its dialect module is imported
    here, where the connection says which: importing the PostgreSQL dialect costs a SQLite
    process some 45 ms."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


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
