"""Erasing customers with everything that refers to them (the right to be forgotten):
memberships, records, journeys with their steps and send logs, events, and the customer row.
The caller owns the transaction, so an erasure is whole or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.sql.elements import ColumnElement

from engine.store.models import (
    CUSTOMERS,
    EVENTS,
    JOURNEYS,
    MEMBERSHIPS,
    RECORDS,
    SEND_LOG,
    STEPS,
)
from engine.store.raw import among


def erase_customers(conn: Connection, ids: Sequence[int]) -> dict[str, int]:
    """Delete the customers and every row that refers to them; return the rows deleted per
    table (``customers`` is how many of ``ids`` existed)."""
    counts = dict.fromkeys(
        ("customers", "memberships", "records", "journeys", "steps", "send_log", "events"), 0
    )
    wanted = list(dict.fromkeys(ids))
    # what refers to their journeys first, while the journeys are still there to find it
    for chosen, _ in among(conn, JOURNEYS.c.customer_id, wanted):
        journey_ids = select(JOURNEYS.c.id).where(chosen)
        for name, table in (("steps", STEPS), ("send_log", SEND_LOG), ("events", EVENTS)):
            theirs = table.c.journey_id.in_(journey_ids)
            counts[name] += int(conn.execute(delete(table).where(theirs)).rowcount)
    plan: list[tuple[str, Table, ColumnElement[Any]]] = [
        ("events", EVENTS, EVENTS.c.customer_id),
        ("journeys", JOURNEYS, JOURNEYS.c.customer_id),
        ("records", RECORDS, RECORDS.c.customer_id),
        ("memberships", MEMBERSHIPS, MEMBERSHIPS.c.customer_id),
        ("customers", CUSTOMERS, CUSTOMERS.c.system_id),
    ]
    for name, table, column in plan:
        for chosen, _ in among(conn, column, wanted):
            counts[name] += int(conn.execute(delete(table).where(chosen)).rowcount)
    return counts
