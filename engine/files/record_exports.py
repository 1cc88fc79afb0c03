"""Exports of datamodel records (``sluis export --from orders``, the export object's
``from:``): one row per record, with columns naming the record's fields (``key``, its fields,
``created_at``, ``updated_at``) and the customer's (``customer.email``); and the records that
customer exports with record aggregates in their columns need, a chunk of customers at a time.
The store is imported by the functions that read it: a flow validates without it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import ExpressionError, InputError
from engine.files.exports import Column
from engine.model.recordnames import record_fields
from engine.model.templates import Template
from engine.model.validation import did_you_mean

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.model.expressions import Expression
    from engine.model.project import Project

CHUNK = 1000
T = TypeVar("T")


def record_columns(specs: Sequence[str], project: Project, collection: str) -> list[Column]:
    """Columns of an export of ``collection``: record fields, or ``customer.FIELD``."""
    known = record_fields(project, collection)
    columns = []
    for spec in specs:
        name = spec.strip()
        if name.startswith("customer."):
            field = name.removeprefix("customer.")
            if field not in project.customer_fields:
                hint = did_you_mean(field, project.customer_fields)
                raise InputError(f"column '{name}': unknown customer field '{field}'{hint}")
            columns.append(Column(name, field=field))
        elif name in known:
            columns.append(Column(name, field=name, source="record"))
        else:
            hint = did_you_mean(name, known) or (
                f"; the fields of {collection} are {', '.join(known)}, "
                "and customer.FIELD names a customer field"
            )
            raise InputError(f"column '{name}' is not a field of collection '{collection}'{hint}")
    return columns


def record_condition(collection: str, source: str) -> Expression:
    """``--where`` of an export of records: a condition on each record, its fields by their
    bare names (as inside ``where``), ``customer.X`` for its customer's."""
    from engine.model.expressions import Expression

    prefix = f"any(records.{collection} where ("
    try:
        return Expression.parse(f"{prefix}{source}))")
    except ExpressionError as exc:
        offset = max(0, exc.offset - len(prefix))
        message = str(exc)
        raise ExpressionError(message.replace(prefix, ""), offset) from None


def check_names(expr: Expression, project: Project) -> None:
    """Customer fields and datamodel names of ``expr`` exist; else ``InputError``."""
    from engine.model.recordnames import record_name_problem

    fields = project.customer_fields
    for ref in expr.references:
        if ref.path[0] == "records" and len(ref.path) > 1:
            problem = record_name_problem(project, ref.path)
            if problem is not None:
                raise InputError(problem[0])
        elif ref.path[0] == "customer" and len(ref.path) > 1 and ref.path[1] not in fields:
            hint = did_you_mean(ref.path[1], project.customer_fields)
            raise InputError(f"unknown customer field '{ref.path[1]}'{hint}")


def collections_used(project: Project, parts: Iterable[Any]) -> list[str]:
    """The collections expressions and templates among ``parts`` read (every collection when a
    template uses ``records`` as a whole)."""
    from engine.model.expressions import Expression

    found: dict[str, None] = {}
    for part in parts:
        if isinstance(part, Expression):
            paths = [ref.path for ref in part.references]
        elif isinstance(part, Template) and "records" in part.names:
            paths = list(part.record_names) or [("records", c) for c in project.settings.datamodel]
        else:
            continue
        for path in paths:
            if path[0] == "records" and path[1] in project.settings.datamodel:
                found[path[1]] = None
    return list(found)


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def with_records(
    conn: Connection,
    project: Project,
    collections: Sequence[str],
    customers: Iterable[tuple[dict[str, Any], T]],
) -> Iterator[tuple[dict[str, Any], T, Mapping[str, Any]]]:
    """Each (customer, extra) with the customer's records of ``collections`` (newest first),
    loaded a chunk of customers at a time: one query per collection and chunk."""
    from engine.store.recordsets import records_of_customers

    for chunk in chunked(customers):
        ids = [customer["system_id"] for customer, _ in chunk]
        loaded = {c: records_of_customers(conn, c, ids, project) for c in collections}
        for customer, extra in chunk:
            sid = customer["system_id"]
            yield customer, extra, {c: loaded[c].get(sid, ()) for c in collections}


def record_scopes(
    conn: Connection,
    project: Project,
    collection: str,
    where: Expression | None,
    now: datetime,
    today: date,
) -> Iterator[dict[str, Any]]:
    """A scope per record of ``collection`` (``record``, ``customer``, ``records``) for which
    ``where`` (from ``record_condition``) holds, in the order records were stored, streamed."""
    from engine.store.customers import load_customers
    from engine.store.raw import fetch, json_value
    from engine.store.recordsets import typed_view

    kinds = project.settings.datamodel[collection].fields
    after = 0
    while True:
        rows = fetch(
            conn,
            "SELECT id, customer_id, key, data, created_at, updated_at FROM records "
            "WHERE collection = ? AND id > ? ORDER BY id LIMIT ?",
            [collection, after, CHUNK],
        )
        if not rows:
            return
        after = rows[-1][0]
        customers = load_customers(conn, {r[1] for r in rows if r[1] is not None}, project)
        for _, customer_id, key, data, created_at, updated_at in rows:
            record = typed_view(key, json_value(data) or {}, created_at, updated_at, kinds)
            scope = {
                "customer": customers.get(customer_id, {}) if customer_id is not None else {},
                "record": record,
                "records": {collection: (record,)},
                "data": {},
                "now": now,
                "today": today,
            }
            if where is None or where.test(scope):
                yield scope
