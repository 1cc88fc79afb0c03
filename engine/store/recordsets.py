"""The datamodel records of many customers at once, for expressions and templates on a batch:
one query per collection, never one per customer.

A record as expressions and templates see it is a mapping with ``key``, ``created_at`` and
``updated_at`` (when it was stored and last changed), then its fields in their Python types (a
field of the same name, such as an order's own ``created_at``, wins; the store keeps that field
in the ``created_at`` column too). A customer's records come newest first: by ``created_at``,
then by the order they were stored in."""

from __future__ import annotations

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
    where, param = one_of(conn, "customer_id", sorted(set(customer_ids)))
    columns = "customer_id, key, data, created_at, updated_at"
    order = "ORDER BY customer_id, created_at DESC, id DESC"
    statement = f"SELECT {columns} FROM records WHERE collection = ? AND {where}"
    if limit is not None:
        statement = (
            f"SELECT {columns} FROM (SELECT {columns}, id, row_number() OVER "
            f"(PARTITION BY customer_id ORDER BY created_at DESC, id DESC) AS place "
            f"FROM records WHERE collection = ? AND {where}) AS newest WHERE place <= {int(limit)}"
        )
    rows = conn.exec_driver_sql(
        placeholders(conn, f"{statement} {order}"), (collection, param)
    ).fetchall()
    kinds = project.settings.datamodel[collection].fields
    found: dict[int, list[dict[str, Any]]] = {}
    for customer_id, key, data, created_at, updated_at in rows:
        record = typed_view(key, json_value(data) or {}, created_at, updated_at, kinds)
        found.setdefault(customer_id, []).append(record)
    return {customer_id: tuple(records) for customer_id, records in found.items()}


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
        "created_at": time_value(created_at),
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
