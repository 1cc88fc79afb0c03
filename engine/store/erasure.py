"""Erasing customers with everything that refers to them (the right to be forgotten):
memberships, records, journeys with their steps and send logs, events, and the customer row.
The caller owns the transaction, so an erasure is whole or not at all."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, delete, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from engine.store.models import (
    Customer,
    Event,
    Journey,
    Membership,
    Record,
    SendLog,
    Step,
)

CHUNK = 500


def erase_customers(conn: Connection, ids: Sequence[int]) -> dict[str, int]:
    """Delete the customers and every row that refers to them; return the rows deleted per
    table (``customers`` is how many of ``ids`` existed)."""
    journeys = _table(Journey)
    steps, send_log, events = _table(Step), _table(SendLog), _table(Event)
    records, members, customers = _table(Record), _table(Membership), _table(Customer)
    counts = dict.fromkeys(
        ("customers", "memberships", "records", "journeys", "steps", "send_log", "events"), 0
    )
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), CHUNK):
        part = wanted[start : start + CHUNK]
        journey_ids = select(journeys.c.id).where(journeys.c.customer_id.in_(part))
        plan: list[tuple[str, Table, ColumnElement[bool]]] = [
            ("steps", steps, steps.c.journey_id.in_(journey_ids)),
            ("send_log", send_log, send_log.c.journey_id.in_(journey_ids)),
            (
                "events",
                events,
                or_(events.c.customer_id.in_(part), events.c.journey_id.in_(journey_ids)),
            ),
            ("journeys", journeys, journeys.c.customer_id.in_(part)),
            ("records", records, records.c.customer_id.in_(part)),
            ("memberships", members, members.c.customer_id.in_(part)),
            ("customers", customers, customers.c.system_id.in_(part)),
        ]
        for name, table, condition in plan:
            counts[name] += int(conn.execute(delete(table).where(condition)).rowcount)
    return counts


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table
