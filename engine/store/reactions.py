"""What customers did and asked for, as objects need it: when events of a kind happened to
them (``wait-for``), and unsubscribing them from all mail (``unsubscribe``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from engine.store.raw import among, execute_many, fetch, time_param, time_value


def event_times(
    conn: Connection,
    kind: str,
    customer_ids: Sequence[int],
    *,
    flow: str,
    since: datetime,
    object_id: str | None = None,
) -> dict[int, list[datetime]]:
    """When events of ``kind`` of ``flow`` (of its object ``object_id`` when given) happened
    to each of ``customer_ids`` since ``since``."""
    found: dict[int, list[datetime]] = {}
    narrow = " AND object = ?" if object_id is not None else ""
    for condition, params in among(conn, "customer_id", customer_ids):
        rows = fetch(
            conn,
            f"SELECT customer_id, at FROM events WHERE kind = ? AND {condition} AND flow = ? "
            f"AND at >= ?{narrow}",
            [
                kind,
                *params,
                flow,
                time_param(conn, since),
                *([object_id] if object_id is not None else []),
            ],
        )
        for customer_id, at in rows:
            moment = time_value(at)
            if moment is not None:
                found.setdefault(customer_id, []).append(moment)
    return found


def unsubscribe(conn: Connection, customer_ids: Sequence[int], now: datetime) -> None:
    """Unsubscribe customers from all mail."""
    stamp = time_param(conn, now)
    for condition, params in among(conn, "system_id", customer_ids):
        execute_many(
            conn,
            f"UPDATE customers SET unsubscribed = ?, updated_at = ? WHERE {condition}",
            [(True, stamp, *params)],
        )
