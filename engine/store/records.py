"""Datamodel records in the store: typed by their collection in ``sluis.yaml``, keyed by the
collection's key field, optionally linked to a customer.

Every path that writes records (webhooks, the REST API, imports into a collection) goes through
these functions, so typing is the same everywhere. Records keep their data in the JSON form of
``engine.model.fields.to_json`` (dates as ISO text, decimals as text). Functions take an open
connection: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from engine.errors import InputError
from engine.model.fields import convert, to_json
from engine.model.project import collection_of as collection_of  # re-exported
from engine.model.sizes import MAX_RECORD_KEY, check_lengths
from engine.model.validation import did_you_mean
from engine.store.bulk import insert_columns
from engine.store.models import RECORDS
from engine.store.raw import among, fetch, json_value, one_of

if TYPE_CHECKING:
    from engine.model.project import Project

R = RECORDS.c


def typed_record(collection: str, row: Mapping[str, Any], project: Project) -> dict[str, Any]:
    """Convert one row of record fields to their Python types; ``InputError`` names the field,
    the value and the fix."""
    fields = collection_of(project, collection).fields
    result: dict[str, Any] = {}
    for name, value in row.items():
        kind = fields.get(name)
        if kind is None:
            hint = did_you_mean(name, list(fields))
            raise InputError(
                f"unknown field '{name}' of collection '{collection}'{hint}"
                + ("" if hint else f"; its fields: {', '.join(fields)}")
            )
        try:
            result[name] = convert(value, kind)
        except ValueError as exc:
            raise InputError(f"field '{name}': {exc}") from None
    check_lengths(result, {collection_of(project, collection).key: MAX_RECORD_KEY})
    return result


def record_key(collection: str, data: Mapping[str, Any], project: Project) -> str:
    """The key of a typed record, as text; ``InputError`` when the key field is empty."""
    key_field = collection_of(project, collection).key
    value = data.get(key_field)
    if value is None:
        raise InputError(f"missing key: field '{key_field}' of collection '{collection}' is empty")
    return str(to_json(value))


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "collection": row.collection,
        "key": row.key,
        "customer_id": row.customer_id,
        "data": dict(row.data or {}),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def upsert_records(
    conn: Connection,
    collection: str,
    rows: Sequence[tuple[Mapping[str, Any], int | None]],
    *,
    project: Project,
    now: datetime,
) -> list[tuple[int, str]]:
    """Insert or update typed records (data, customer_id) matched on the collection's key;
    return (record id, status) per row in order, status being new, changed or unchanged.
    Fields a row does not name stay as they are; a ``None`` customer keeps the current link.
    Rows with the same key within one call apply in order."""
    keyed = [
        (
            record_key(collection, data, project),
            {name: to_json(value) for name, value in data.items()},
            customer,
        )
        for data, customer in rows
    ]
    return store_records(conn, collection, keyed, now=now)


def store_records(
    conn: Connection,
    collection: str,
    keyed: Sequence[tuple[str, Mapping[str, Any], int | None]],
    *,
    now: datetime,
) -> list[tuple[int, str]]:
    """``upsert_records`` of rows already keyed and in JSON form: (key text, data, customer
    id). Imports build these a column at a time; the new records go in as columns too."""
    current: dict[str, dict[str, Any]] = {}
    for record_id, key, customer_id, data in _by_key(
        conn, collection, list(dict.fromkeys(k for k, _, _ in keyed)), "customer_id, data"
    ):
        current[key] = {"id": record_id, "customer_id": customer_id, "data": json_value(data) or {}}
    before = {k: dict(v, data=dict(v["data"])) for k, v in current.items()}
    pending: dict[str, dict[str, Any]] = {}
    for key, data, customer in keyed:
        target = current.get(key) or pending.setdefault(key, {"customer_id": None, "data": {}})
        target["data"].update(data)
        if customer is not None:
            target["customer_id"] = customer
    new_ids: dict[str, int] = {}
    if pending:
        # one executemany of the rows as columns, then the ids by key: INSERT ... RETURNING in
        # parameter order would go row by row on SQLite
        added = list(pending.values())
        insert_columns(
            conn,
            RECORDS,
            {
                "key": list(pending),
                "customer_id": [values["customer_id"] for values in added],
                "data": [values["data"] for values in added],
                "created_at": [_created(values["data"]) or now for values in added],
            },
            {"collection": collection, "updated_at": now},
        )
        new_ids = _ids(conn, collection, list(pending))
    changed = {k: v for k, v in current.items() if v != before[k]}
    if changed:
        conn.execute(
            update(RECORDS)
            .where(R.id == bindparam("r_id"))
            .values(
                customer_id=bindparam("r_customer"),
                data=bindparam("r_data"),
                created_at=func.coalesce(
                    bindparam("r_created", type_=R.created_at.type), R.created_at
                ),
                updated_at=now,
            ),
            [
                {
                    "r_id": v["id"],
                    "r_customer": v["customer_id"],
                    "r_data": v["data"],
                    "r_created": _created(v["data"]),
                }
                for v in changed.values()
            ],
        )
    result = []
    for key, _, _ in keyed:
        if key in new_ids:
            result.append((new_ids[key], "new"))
        else:
            result.append((current[key]["id"], "changed" if key in changed else "unchanged"))
    return result


def _created(data: Mapping[str, Any]) -> datetime | None:
    """A record's own ``created_at`` field (an order's time), which its ``created_at`` column
    takes so records sort by it in SQL; None when it has none."""
    value = data.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)


def _ids(conn: Connection, collection: str, keys: Sequence[str]) -> dict[str, int]:
    return {key: int(record_id) for record_id, key in _by_key(conn, collection, keys)}


def _by_key(
    conn: Connection, collection: str, keys: Sequence[str], columns: str = ""
) -> list[tuple[Any, ...]]:
    """id, key and ``columns`` of the records of ``collection`` with one of ``keys``, in one
    statement."""
    if not keys:
        return []
    where, param = one_of(conn, "key", keys)
    more = f", {columns}" if columns else ""
    statement = f"SELECT id, key{more} FROM records WHERE collection = ? AND {where}"
    return fetch(conn, statement, [collection, param])


def get_record(conn: Connection, collection: str, key: str) -> dict[str, Any] | None:
    """One record by its key, with its data in JSON form; None when there is none."""
    row = conn.execute(select(RECORDS).where(R.collection == collection, R.key == key)).first()
    return None if row is None else _public(row)


def get_records(conn: Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Records by id, in id order."""
    found: list[dict[str, Any]] = []
    for condition, _ in among(conn, R.id, ids):
        query = select(RECORDS).where(condition)
        found.extend(_public(row) for row in conn.execute(query))
    return sorted(found, key=lambda r: int(r["id"]))


def delete_record(conn: Connection, collection: str, key: str) -> bool:
    """Delete one record; False when there was none."""
    result = conn.execute(delete(RECORDS).where(R.collection == collection, R.key == key))
    return bool(result.rowcount)


def _field_test(name: str, kind: str, value: Any) -> ColumnElement[bool]:
    element = R.data[name]
    if value is None:
        return element.as_string().is_(None)  # type: ignore[no-any-return]
    if kind == "int":
        return element.as_integer() == value  # type: ignore[no-any-return]
    if kind == "float":
        return element.as_float() == value  # type: ignore[no-any-return]
    if kind == "bool":
        return element.as_boolean() == value  # type: ignore[no-any-return]
    return element.as_string() == str(to_json(value))  # type: ignore[no-any-return]


def list_records(
    conn: Connection,
    collection: str,
    *,
    project: Project,
    customer_id: int | None = None,
    where: Mapping[str, Any] | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Records of a collection in id order after ``after_id``: of one customer, and/or whose
    fields equal the typed values of ``where``."""
    fields = collection_of(project, collection).fields
    query = select(RECORDS).where(R.collection == collection, R.id > after_id)
    if customer_id is not None:
        query = query.where(R.customer_id == customer_id)
    for name, value in (where or {}).items():
        query = query.where(_field_test(name, fields[name], value))
    rows = conn.execute(query.order_by(R.id).limit(limit))
    return [_public(row) for row in rows]
