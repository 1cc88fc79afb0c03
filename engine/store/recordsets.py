"""The datamodel records of many customers at once, for expressions and templates on a batch:
one query per collection, never one per customer.

A record as expressions and templates see it is a mapping with ``key``, ``created_at`` and
``updated_at`` (when it was stored and last changed), then its fields in their Python types (a
field of the same name, such as an order's own ``created_at``, wins). A customer's records come
newest first: by that ``created_at``, then by the order they were stored in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from engine.model.fields import convert
from engine.store.raw import fetch, json_value, one_of, time_value

if TYPE_CHECKING:
    from engine.model.project import Project

CustomerRecords = dict[int, tuple[dict[str, Any], ...]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def records_of_customers(
    conn: Connection, collection: str, customer_ids: Sequence[int], project: Project
) -> CustomerRecords:
    """The records of ``collection`` that belong to ``customer_ids``, per customer, newest
    first (customers without records are missing)."""
    if not customer_ids:
        return {}
    where, param = one_of(conn, "customer_id", sorted(set(customer_ids)))
    rows = fetch(
        conn,
        "SELECT id, customer_id, key, data, created_at, updated_at FROM records "
        f"WHERE collection = ? AND {where}",
        [collection, param],
    )
    kinds = project.settings.datamodel[collection].fields
    grouped: dict[int, list[tuple[Any, int, dict[str, Any]]]] = {}
    for record_id, customer_id, key, data, created_at, updated_at in rows:
        record = typed_view(key, json_value(data) or {}, created_at, updated_at, kinds)
        grouped.setdefault(customer_id, []).append((_moment(record), record_id, record))
    return {
        customer_id: tuple(record for *_, record in sorted(found, reverse=True, key=_order))
        for customer_id, found in grouped.items()
    }


def _order(item: tuple[Any, int, dict[str, Any]]) -> tuple[Any, int]:
    return item[0], item[1]


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
        try:
            record[name] = value if kind is None or value is None else convert(value, kind)
        except ValueError:
            record[name] = None  # stored before the field's type changed: unreadable is missing
    return record


def _moment(record: Mapping[str, Any]) -> datetime:
    """A record's ``created_at`` as an aware date-time, for ordering."""
    value = record.get("created_at")
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    if value is None:
        return _EPOCH
    try:
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    except AttributeError:
        return _EPOCH


def used_collections(names: Iterable[tuple[str, ...]]) -> set[str]:
    """The collections among ``("records", C, ...)`` references."""
    return {path[1] for path in names if len(path) > 1 and path[0] == "records"}
