"""Set-based inserts without per-row work in SQLAlchemy, for the big writes (imports).

``insert_many`` compiles one INSERT for the table, converts values with the columns' own types
(so what lands in the database is exactly what an ordinary insert writes), converts the values
that are the same for every row only once, and hands all rows to the driver's ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (mappings with the same keys), each with the values of ``same`` too."""
    if not rows:
        return
    same = dict(same or {})
    varying = list(rows[0])
    keys = varying + list(same)
    dialect = conn.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    convert: dict[str, Callable[[Any], Any] | None] = {
        key: table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys
    }
    fixed = {k: (convert[k](v) if convert[k] else v) for k, v in same.items()}  # type: ignore[misc]
    order = list(compiled.positiontup or []) if compiled.positional else keys
    # column by column: the loops run in C (list, map, zip), not once per value in Python
    columns: list[Iterable[Any]] = []
    for key in order:
        if key in fixed:
            columns.append(repeat(fixed[key], len(rows)))
            continue
        values = [row[key] for row in rows]
        step = convert[key]
        columns.append(list(map(step, values)) if step else values)
    params: list[Any] = list(zip(*columns, strict=True))
    if not compiled.positional:
        params = [dict(zip(order, values, strict=True)) for values in params]
    conn.exec_driver_sql(str(compiled), params)
