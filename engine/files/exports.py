"""Exports: customers to a CSV at any place, with the columns people choose.

A column is a customer field (its value as text: ISO dates, ``true``/``false``, groups joined
with commas) or ``{header, value}`` with a template. Files are written atomically and never
replace a file: when the name exists, ``-2``, ``-3``, ... goes before the extension. The
``export`` object reserves its file's name per batch in the ``files`` table first, so a batch
that runs again after a crash finds its own file instead of writing a second one. ``sluis
export`` writes one file from a selection.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, StoreConflict
from engine.files import NameTaken, Place
from engine.model.templates import Template, local_today
from engine.model.validation import did_you_mean

# The store (SQLAlchemy) is imported by the functions that use it, so a flow with an export
# object validates without loading it.
if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.model.expressions import Expression
    from engine.model.project import Project


@dataclass(frozen=True)
class Column:
    """One column: a field of the customer (or, ``source="record"``, of the record an export
    of records is at), a template over the scope, or an expression (a record aggregate such
    as ``count(records.orders)``)."""

    header: str
    field: str | None = None
    template: Template | None = None
    expression: Expression | None = None
    source: str = "customer"

    def cell(self, scope: Mapping[str, Any]) -> str:
        if self.template is not None:
            return self.template.render(scope)
        if self.expression is not None:
            return cell_text(self.expression.evaluate(scope))
        return cell_text((scope.get(self.source) or {}).get(self.field or ""))


def column_value(value: Any) -> Template | Expression:
    """A column's ``value``: a template, or ``{{ EXPRESSION }}`` with an expression that is
    not a template (``{{ count(records.orders where status == "paid") }}``)."""
    if isinstance(value, Template):
        return value
    from engine.errors import ExpressionError, TemplateError
    from engine.model.expressions import Expression

    text = str(value)
    if isinstance(value, Expression):
        return value
    try:
        return Template.parse(text)
    except TemplateError as exc:
        inner = text.strip()
        if not (inner.startswith("{{") and inner.endswith("}}")) or "{{" in inner[2:-2]:
            raise
        try:
            return Expression.parse(inner[2:-2].strip())
        except ExpressionError as problem:
            if "records" not in inner:
                raise exc from None
            raise TemplateError(f"column value {text!r}: {problem}") from None


def cell_text(value: Any) -> str:
    """A field value as CSV text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def columns_of(specs: Sequence[Any], fields: Iterable[str]) -> list[Column]:
    """Columns from settings: field names, or objects with ``header`` and ``value`` (a
    template). An unknown field name is an ``InputError`` with the fix."""
    known = list(fields)
    columns = []
    for spec in specs:
        if isinstance(spec, str):
            if spec not in known:
                hint = did_you_mean(spec, known) or (
                    "; for anything else write {header: NAME, value: TEMPLATE}"
                )
                raise InputError(f"column '{spec}' is not a customer field{hint}")
            columns.append(Column(spec, field=spec))
        elif getattr(spec, "expression", None) is not None:
            columns.append(Column(spec.header, expression=spec.expression))
        else:
            value = column_value(spec.value)
            if isinstance(value, Template):
                columns.append(Column(spec.header, template=value))
            else:
                columns.append(Column(spec.header, expression=value))
    return columns


def matching_customers(
    conn: Connection,
    project: Project,
    where: Expression | None,
    group: str | None,
    now: datetime,
    today: date | None = None,
    columns: Sequence[Column] | None = None,
) -> Iterator[tuple[dict[str, Any], int]]:
    """Customers (of ``group``) for whom ``where`` holds, in system_id order, streamed; the
    expression runs in the database. With each customer, its system_id (for progress bars).
    Group names are read only when ``columns`` (all when None) may show them."""
    from engine.store.segments import matching_customers as in_segment

    day = today or local_today(now, project.settings.timezone)
    groups = columns is None or any(
        c.field == "groups" or c.template is not None or c.expression is not None for c in columns
    )
    chunks = in_segment(conn, project, where, now=now, today=day, group=group, groups=groups)
    for chunk in chunks:
        for customer in chunk:
            yield customer, customer["system_id"]


def write_csv(
    place: Place,
    scopes: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    **options: Any,
) -> int:
    """Write one row per scope (``customer`` and the other template variables) to ``place``
    (see ``write_cells``). Returns the number of rows."""
    rows = ([[c.cell(scope) for c in columns]] for scope in scopes)
    return write_cells(place, [c.header for c in columns], rows, **options)


def write_cells(
    place: Place,
    headers: Sequence[str],
    chunks: Iterable[Sequence[Sequence[Any]]],
    *,
    delimiter: str = ",",
    header: bool = True,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write rows of cells (text, whole numbers or None for empty), given in chunks, to
    ``place``, atomically and without replacing anything (``NameTaken`` when the name exists).
    Returns the number of rows."""
    count = 0
    with place.writer() as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        writer = csv.writer(text, delimiter=delimiter)
        if header:
            writer.writerow(headers)
        for chunk in chunks:
            writer.writerows(chunk)
            before, count = count, count + len(chunk)
            if on_row is not None and count // 10_000 > before // 10_000:
                on_row(count)
        text.flush()
        text.detach()
    return count


# values csv writes as cell_text would (None as empty): the rest goes through cell_text
_AS_IS = frozenset({str, int, float, Decimal, type(None)})


def cells(values: Sequence[Any]) -> list[Any]:
    """Field values as CSV cells (``cell_text``, with what csv writes alike left to it)."""
    return [value if type(value) in _AS_IS else cell_text(value) for value in values]


def chunk_cells(rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """Rows of field values as rows of CSV cells, as ``cells`` makes them, a column at a
    time: a column of text and numbers only (most are) is left as it is, so a chunk of such
    rows costs no Python per value (``zip``, ``map`` and ``set`` run in C)."""
    columns = list(zip(*rows, strict=True))
    odd = [
        place for place, column in enumerate(columns) if not _AS_IS.issuperset(map(type, column))
    ]
    if not odd:
        return rows
    for place in odd:
        columns[place] = tuple(cells(columns[place]))
    return list(zip(*columns, strict=True))


def plain_fields(columns: Sequence[Column]) -> list[str] | None:
    """The customer fields ``columns`` show when each shows one (not ``groups``), else None:
    such an export reads only those fields, not whole customers."""
    fields = [c.field for c in columns if c.source == "customer" and c.template is None]
    if len(fields) != len(columns) or "groups" in fields or None in fields:
        return None
    return [str(field) for field in fields]


def write_new(place: Place, write: Callable[[Place], int]) -> tuple[Place, int]:
    """``write`` to ``place``, or to it numbered when the name exists (again, should a name be
    taken while writing). Returns where it went and the rows."""
    for candidate in place.free_names():
        try:
            return candidate, write(candidate)
        except NameTaken:
            continue
    raise AssertionError("free_names ends with an error")  # pragma: no cover


def reserve(
    conn: Connection,
    place: Place,
    batch: str,
    *,
    flow: str,
    object_id: str,
    now: datetime,
    again: bool = False,
) -> str:
    """The location of the file for ``batch``: the one reserved before (a batch that runs
    again), else the first free name from ``place`` on (no file there, not reserved by another
    batch), reserved now. ``again`` moves the reservation on (its name was taken meanwhile)."""
    from engine.store import files as records
    from engine.store.db import savepoint

    found = records.find_batch(conn, "export", batch)
    if found is not None and not again:
        return str(found.location)
    for candidate in place.free_names():
        location = str(candidate)
        try:
            with savepoint(conn):
                if found is not None:
                    records.change(conn, found.id, now, key=location, location=location)
                else:
                    records.add(
                        conn,
                        "export",
                        location,
                        flow=flow,
                        object_id=object_id,
                        batch=batch,
                        location=location,
                        state="reserved",
                        now=now,
                    )
        except StoreConflict:
            continue  # another batch reserved it
        return location
    raise AssertionError("free_names ends with an error")  # pragma: no cover
