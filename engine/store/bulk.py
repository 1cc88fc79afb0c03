"""Bulk work for the big writes (imports), a column at a time rather than a value at a time.

``typed_columns`` types columns of CSV text exactly as ``convert`` types each value, but lets C
loops (``map``, ``int``, ``date.fromisoformat``) do the common case and falls back to
``convert`` value by value only for a column that holds blanks or bad values, so a bad value
gets the same reason everywhere. ``json_column`` and ``json_objects`` give the JSON form of
typed columns and, row by row, the text ``json.dumps`` would write for them. ``insert_many``
compiles one INSERT for a table, converts values with the columns' own types (so what lands in
the database is exactly what an ordinary insert writes), converts the values that are the same
for every row only once, and hands all rows to the driver's ``executemany`` (on PostgreSQL,
``COPY``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from itertools import repeat
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect

from engine.model.fields import convert, to_json
from engine.store.raw import insert_rows

Faults = dict[int, str]  # why a value failed, by row index


class _Once(dict[str, Any]):
    """Values typed once per distinct text: bool columns hold a handful of spellings."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def __missing__(self, text: str) -> Any:
        value = self[text] = convert(text, self.kind)
        return value


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError("out of range")  # convert says it in words
    return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not finite")  # convert says it in words
    return value


# per kind, a step that types a non-blank text as ``convert`` does, or raises
_STEPS: dict[str, Callable[[], Callable[[str], Any]]] = {
    "int": lambda: _int64,
    "float": lambda: _finite,
    "date": lambda: date.fromisoformat,
    "bool": lambda: _Once("bool").__getitem__,
}
# the JSON form of a typed value, by kind, where it is not the value itself
_JSON_FORM: dict[str, Callable[[Any], Any]] = {
    "date": date.isoformat,
    "datetime": datetime.isoformat,
    "decimal": str,
}


def typed_column(texts: Sequence[str], kind: str) -> tuple[list[Any], Faults]:
    """``convert(text, kind)`` for every text of a column: the values (None where a value
    failed) and, by row index, why those failed."""
    if kind == "str":
        if all(map(str.strip, texts)):
            return list(texts), {}
        return [text if text.strip() else None for text in texts], {}
    make = _STEPS.get(kind)
    step = make() if make else None
    if step is not None:
        try:
            return list(map(step, texts)), {}
        except (ValueError, TypeError, ArithmeticError):
            pass  # a blank or bad value: the slow way below says which and why
    values: list[Any] = []
    faults: Faults = {}
    for index, text in enumerate(texts):
        try:
            values.append(step(text) if step else convert(text, kind))
        except (ValueError, TypeError, ArithmeticError):
            try:
                values.append(convert(text, kind))
            except ValueError as exc:
                values.append(None)
                faults[index] = str(exc)
    return values, faults


def typed_columns(
    columns: Mapping[str, Sequence[str]], types: Mapping[str, str]
) -> tuple[dict[str, list[Any]], dict[str, Faults]]:
    """Type every column by its field's type: the values by field, and by field the rows that
    failed with the message the per-row typing functions give (``field 'NAME': reason``).
    A name not in ``types`` raises ``KeyError``."""
    typed: dict[str, list[Any]] = {}
    faults: dict[str, Faults] = {}
    for name, texts in columns.items():
        typed[name], failed = typed_column(texts, types[name])
        faults[name] = {index: f"field '{name}': {reason}" for index, reason in failed.items()}
    return typed, faults


def first_faults(faults: Mapping[str, Faults], order: Iterable[str]) -> dict[int, tuple[str, str]]:
    """Per failed row, the first field in ``order`` that failed, and its message."""
    found: dict[int, tuple[str, str]] = {}
    for name in order:
        for index, message in faults.get(name, {}).items():
            found.setdefault(index, (name, message))
    return found


def json_column(values: Sequence[Any], kind: str) -> Sequence[Any]:
    """The JSON form (``to_json``) of a typed column."""
    form = _JSON_FORM.get(kind)
    if form is None:
        return values
    if None in values:
        return [to_json(value) for value in values]
    return list(map(form, values))


_LITERALS = {True: "true", False: "false", None: "null"}


def json_texts(values: Sequence[Any]) -> list[str]:
    """Each JSON-form value as the text ``json.dumps`` writes for it."""
    kinds = set(map(type, values)) - {type(None)}
    if kinds <= {bool}:
        return list(map(_LITERALS.__getitem__, values))
    encode: Callable[[Any], str] = (
        encode_basestring_ascii
        if kinds == {str}
        else int.__repr__
        if kinds == {int}
        else json.dumps
    )
    if None in values:
        return ["null" if value is None else encode(value) for value in values]
    return list(map(encode, values))


def json_objects(texts: Mapping[str, Sequence[str]], rows: int) -> list[str]:
    """Per row, the text ``json.dumps`` writes for the object whose fields have the JSON texts
    of ``texts`` (``{"a": 1, "b": "x"}``), built a column at a time."""
    if not texts:
        return ["{}"] * rows
    parts: list[Iterable[str]] = []
    joint = "{"
    for name, values in texts.items():
        parts += [repeat(f"{joint}{encode_basestring_ascii(name)}: "), values]
        joint = ", "
    parts.append(repeat("}"))
    return list(map("".join, zip(*parts, strict=False)))  # the repeats never end


def insert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (mappings with the same keys), each with the values of ``same`` too."""
    if not rows:
        return
    insert_columns(conn, table, {key: [row[key] for row in rows] for key in rows[0]}, same)


def insert_columns(
    conn: Connection,
    table: Table,
    values: Mapping[str, Sequence[Any]],
    same: Mapping[str, Any] | None = None,
) -> None:
    """``insert_many`` of rows given a column at a time (equal lengths): writers that hold
    their rows as columns skip building a mapping per row."""
    count = len(next(iter(values.values()), ()))
    if not count:
        return
    same = dict(same or {})
    keys = (*values, *same)
    statement, order, positional, convert_ = _insert_for(table, keys, conn.dialect)
    fixed = {k: (convert_[k](v) if convert_[k] else v) for k, v in same.items()}  # type: ignore[misc]
    # column by column: the loops run in C (list, map, zip), not once per value in Python
    columns: list[Iterable[Any]] = []
    for key in order:
        if key in fixed:
            columns.append(repeat(fixed[key], count))
            continue
        step = convert_[key]
        columns.append(_converted(values[key], step) if step else values[key])
    if conn.dialect.name == "postgresql":
        insert_rows(conn, table, order, list(zip(*columns, strict=True)))
        return
    params: list[Any] = list(zip(*columns, strict=True))
    if not positional:
        params = [dict(zip(order, values, strict=True)) for values in params]
    conn.exec_driver_sql(statement, params)


def _converted(values: Sequence[Any], step: Callable[[Any], Any]) -> list[Any]:
    """``step`` over a column; a JSON column whose rows share one value object (an event's
    data for every customer of a call) encodes it once."""
    first = values[0] if values else None
    if not isinstance(first, dict | list) or len(values) < 2 or values[1] is not first:
        return list(map(step, values))
    done: dict[int, Any] = {}
    out = []
    for value in values:
        found = done.get(id(value))
        if found is None:
            found = done[id(value)] = step(value)
        out.append(found)
    return out


_Insert = tuple[str, list[str], bool, dict[str, Callable[[Any], Any] | None]]
_INSERTS: dict[tuple[Table, tuple[str, ...], str], _Insert] = {}


def _insert_for(table: Table, keys: tuple[str, ...], dialect: Dialect) -> _Insert:
    """The INSERT for these columns, compiled once per table, columns and database kind
    (compiling costs more than writing a small batch): its text, the parameter order, whether
    parameters are positional, and each column's value conversion."""
    found = _INSERTS.get((table, keys, dialect.name))
    if found is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        convert_: dict[str, Callable[[Any], Any] | None] = {
            key: table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys
        }
        order = list(compiled.positiontup or []) if compiled.positional else list(keys)
        found = (str(compiled), order, bool(compiled.positional), convert_)
        _INSERTS[(table, keys, dialect.name)] = found
    return found
