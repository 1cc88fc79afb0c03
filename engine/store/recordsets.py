"""The datamodel records of many customers at once, for expressions and templates on a batch:
one query per collection, never one per customer.

A record as expressions and templates see it is a mapping with ``key``, ``created_at`` and
``updated_at`` (when it was stored and last changed), then its fields in their Python types (a
field of the same name, such as an order's own ``created_at``, wins; the store keeps that field
in the ``created_at`` column too). A customer's records come newest first: by ``created_at``,
then by the order they were stored in."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from engine.model.fields import convert
from engine.store.raw import json_value, one_of, placeholders, time_value

if TYPE_CHECKING:
    from engine.model.project import Project

CustomerRecords = dict[int, tuple[dict[str, Any], ...]]


def records_of_customers(
    conn: Connection,
    collection: str,
    customer_ids: Sequence[int],
    project: Project,
    limit: int | None = None,
) -> CustomerRecords:
    """The records of ``collection`` that belong to ``customer_ids``, per customer, newest
    first (by the ``created_at`` column, which holds a record's own ``created_at`` field when it
    has one; then newest stored first), at most ``limit`` each; customers without records are
    missing. Only the records kept are decoded and typed."""
    if not customer_ids:
        return {}
    ids = sorted(set(customer_ids))
    if limit is None:
        where, param = one_of(conn, "customer_id", ids)
        statement = f"SELECT {_COLUMNS} FROM records WHERE collection = ? AND {where} {_ORDER}"
        params: tuple[Any, ...] = (collection, param)
    else:
        statement, params = _newest(conn, collection, ids, limit)
    rows = conn.exec_driver_sql(placeholders(conn, statement), params).fetchall()
    kinds = project.settings.datamodel[collection].fields
    found: dict[int, list[dict[str, Any]]] = {}
    for customer_id, key, data, created_at, updated_at in rows:
        record = typed_view(key, json_value(data) or {}, created_at, updated_at, kinds)
        found.setdefault(customer_id, []).append(record)
    return {customer_id: tuple(records) for customer_id, records in found.items()}


_COLUMNS = "customer_id, key, data, created_at, updated_at"
_ORDER = "ORDER BY customer_id, created_at DESC, id DESC"


def _newest(
    conn: Connection, collection: str, ids: list[int], limit: int
) -> tuple[str, tuple[Any, ...]]:
    """The statement that reads each customer's ``limit`` newest records: per customer, the
    first ``limit`` entries of ``ix_records_customer`` read backwards (created_at, then id),
    and only those records' rows; not every record of the batch's customers ranked."""
    names = _COLUMNS.split(", ")
    columns = ", ".join(f"r.{name}" for name in names)
    order = "ORDER BY r.customer_id, r.created_at DESC, r.id DESC"
    newest = (
        "FROM records n WHERE n.customer_id = j.value AND n.collection = ? "
        f"ORDER BY n.created_at DESC, n.id DESC LIMIT {int(limit)}"
    )
    if conn.dialect.name == "postgresql":
        inner = ", ".join(f"n.{name}" for name in ("id", *names))
        statement = (
            f"SELECT {columns} FROM unnest(CAST(? AS bigint[])) AS j(value) CROSS JOIN LATERAL "
            f"(SELECT {inner} {newest}) AS r "
            f"{order}"
        )
        return statement, (ids, collection)
    statement = (
        f"SELECT {columns} FROM json_each(?) AS j JOIN records r ON r.id IN "
        f"(SELECT n.id {newest}) {order}"
    )
    return statement, (json.dumps(ids), collection)


def typed_view(
    key: str,
    data: Mapping[str, Any],
    created_at: Any,
    updated_at: Any,
    kinds: Mapping[str, str],
) -> dict[str, Any]:
    """One record as expressions and templates see it."""
    record: dict[str, Any] = {
        "key": key,
        # a field of its own wins (below): then the column, which holds it too, is not parsed
        "created_at": None if "created_at" in data else time_value(created_at),
        "updated_at": time_value(updated_at),
    }
    for name, value in data.items():
        kind = kinds.get(name)
        if kind is None or value is None or (kind == "str" and type(value) is str):
            record[name] = value
            continue
        try:
            record[name] = convert(value, kind)
        except ValueError:
            record[name] = None  # stored before the field's type changed: unreadable is missing
    return record
