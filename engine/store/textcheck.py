"""Rows whose text cannot be served: JSON values holding a lone UTF-16 surrogate (``\\ud800``
without its pair), which no UTF-8 answer, file or mail can carry. Before the API refused them
at its edge, a webhook could store one in a customer's profile, a record or a journey's data;
``sluis db check`` lists such rows and ``sluis db check --fix`` repairs them, each lone
surrogate becoming U+FFFD, the replacement character.

Only JSON columns can hold one: both drivers refuse to send a lone surrogate as text, but JSON
carries it as the six characters of its escape. So the search asks the database for JSON
holding ``\\ud`` and looks at those rows alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Connection, Table, and_, func, literal, select, update
from sqlalchemy.types import Text

from engine.store.models import TABLES

_ESCAPE = "\\ud"  # every escape of a surrogate, lower-cased, starts so


def unicode_safe(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a pair becomes its character)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def servable(text: str) -> bool:
    """Whether ``text`` is Unicode scalar values only (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads_servable(text: str | bytes) -> Any:
    """JSON read from the database, with any lone surrogate as U+FFFD: what every read of a
    JSON column goes through, so a bad row is served, mailed and exported until it is repaired
    (only text holding a surrogate's escape is looked at twice)."""
    value = json.loads(text)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if "\\ud" in text or "\\uD" in text:
        value = _repair(value, "", [])
    return value


@dataclass(frozen=True)
class BadText:
    """One row with bad text: where it is (table, column, primary key) and the paths inside
    its JSON value that hold a lone surrogate."""

    table: str
    column: str
    key: tuple[Any, ...]
    paths: tuple[str, ...]
    repaired: Any

    def __str__(self) -> str:
        key = ", ".join(map(str, self.key))
        return f"{self.table}.{self.column} [{key}]: {', '.join(self.paths)}"


def find_bad_text(conn: Connection) -> Iterator[BadText]:
    """Every row of every JSON column that holds a lone surrogate."""
    for table in TABLES.sorted_tables:
        keys = list(table.primary_key.columns)
        for column in table.columns:
            if isinstance(column.type, JSON) and keys:
                yield from _column(conn, table, column, keys)


def _column(
    conn: Connection, table: Table, column: Column[Any], keys: list[Column[Any]]
) -> Iterator[BadText]:
    as_text = func.lower(column.cast(Text))
    if conn.dialect.name == "postgresql":
        found = func.strpos(as_text, literal(_ESCAPE)) > 0
    else:
        found = func.instr(as_text, literal(_ESCAPE)) > 0
    query = select(*keys, column.cast(Text)).where(found).order_by(*keys)
    for row in conn.execute(query):
        value = json.loads(row[-1])  # as stored, not as reads see it (repaired)
        paths: list[str] = []
        repaired = _repair(value, "", paths)
        if paths:
            yield BadText(table.name, column.name, tuple(row[:-1]), tuple(paths), repaired)


def _repair(value: Any, path: str, paths: list[str]) -> Any:
    """``value`` with lone surrogates replaced; the paths where they were go to ``paths``."""
    if isinstance(value, str):
        if servable(value):
            return value
        paths.append(path or "(the value)")
        return unicode_safe(value)
    if isinstance(value, list):
        return [_repair(item, f"{path}[{i}]", paths) for i, item in enumerate(value)]
    if isinstance(value, dict):
        fixed: dict[str, Any] = {}
        for key, item in value.items():
            name = key if servable(key) else unicode_safe(key)
            if name is not key:
                paths.append(f"{path}.{name}".lstrip(".") + " (its name)")
            fixed[name] = _repair(item, f"{path}.{name}".lstrip("."), paths)
        return fixed
    return value


def repair(conn: Connection, bad: BadText) -> None:
    """Write ``bad``'s repaired value (lone surrogates as U+FFFD) in the caller's transaction."""
    table = TABLES.tables[bad.table]
    keys = list(table.primary_key.columns)
    where = and_(*(key == value for key, value in zip(keys, bad.key, strict=True)))
    conn.execute(update(table).where(where).values({bad.column: bad.repaired}))
