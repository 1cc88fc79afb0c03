"""Customer sets kept for the SOAP API: Deployteq answers a set (a group's members, a
campaign's) with a resource id that the client polls and reads in pages, then frees. A set
not freed expires: one made before the caller's ``since`` is no more (the caller deletes it
when it is asked for; keeping a new set deletes every one). The caller owns the
transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from engine.store.models import JOURNEYS, SOAP_RESOURCES

RESOURCES = SOAP_RESOURCES
R = RESOURCES.c


def keep_set(
    conn: Connection, kind: str, customer_ids: Sequence[int], now: datetime, since: datetime
) -> int:
    """Keep a customer set (and delete the sets made before ``since``); returns its id."""
    conn.execute(delete(RESOURCES).where(R.created_at < since))
    made = conn.execute(
        insert(RESOURCES)
        .values(kind=kind, customer_ids=json.dumps(list(customer_ids)), created_at=now)
        .returning(R.id)
    ).scalar_one()
    return int(made)


def kept_set(conn: Connection, resource_id: int, since: datetime) -> tuple[str, list[int]] | None:
    """The kind and customers of a set kept since ``since``, or None when there is none
    (never made, freed, or made before ``since``)."""
    query = select(R.kind, R.customer_ids, R.created_at).where(R.id == resource_id)
    row = conn.execute(query).first()
    if row is None:
        return None
    if row.created_at < since:
        return None
    return str(row.kind), [int(i) for i in json.loads(row.customer_ids)]


def free_set(conn: Connection, resource_id: int) -> bool:
    return bool(conn.execute(delete(RESOURCES).where(R.id == resource_id)).rowcount)


def flow_customers(conn: Connection, flow: str) -> list[int]:
    """Customers with a journey in ``flow``, in system_id order."""
    query = (
        select(JOURNEYS.c.customer_id)
        .where(JOURNEYS.c.flow == flow)
        .distinct()
        .order_by(JOURNEYS.c.customer_id)
    )
    return [int(i) for i in conn.execute(query).scalars()]
