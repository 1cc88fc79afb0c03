"""Read queries for lists and counts (the REST API, the TUI): keyset pages of customers,
events and group members, groups with their sizes, and live counts per object of a flow.
Pages read after a place in their order, so deep pages stay fast."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from engine.store.models import CUSTOMERS, EVENTS, FLOW_STATES, GROUPS, MEMBERSHIPS
from engine.store.raw import among, fetch

MEMBERS = MEMBERSHIPS
FLOWS = FLOW_STATES


def customer_ids(
    conn: Connection,
    *,
    after: int = 0,
    limit: int = 100,
    email: str | None = None,
    external_id: str | None = None,
) -> list[int]:
    """system_ids in order after ``after``, of customers with that e-mail address (any case)
    and/or external_id."""
    # straight to the driver: built and compiled by SQLAlchemy, this statement cost more than
    # running it does, and it runs on every lookup of a customer by the API
    conditions = ["system_id > ?"]
    params: list[Any] = [after]
    if email is not None:
        conditions.append("lower(email) = ?")  # the expression of ix_customers_email_lower
        params.append(email.strip().lower())
    if external_id is not None:
        conditions.append("external_id = ?")
        params.append(external_id)
    statement = (
        f"SELECT system_id FROM customers WHERE {' AND '.join(conditions)} "
        "ORDER BY system_id LIMIT ?"
    )
    return [int(row[0]) for row in fetch(conn, statement, [*params, limit])]


def existing_customers(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` that are customers."""
    found: set[int] = set()
    wanted = list(dict.fromkeys(ids))
    for condition, _ in among(conn, CUSTOMERS.c.system_id, wanted):
        found.update(conn.execute(select(CUSTOMERS.c.system_id).where(condition)).scalars())
    return found


def events(
    conn: Connection,
    *,
    after: tuple[datetime, int] | None = None,
    limit: int = 100,
    kinds: Sequence[str] = (),
    customer_id: int | None = None,
    flow: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Events in order of time, then id, after the place ``after``; ``since`` inclusive,
    ``until`` exclusive."""
    e = EVENTS.c
    query = select(EVENTS)
    if after is not None:
        at, last = after
        query = query.where(or_(e.at > at, and_(e.at == at, e.id > last)))
    if kinds:
        query = query.where(e.kind.in_(list(kinds)))
    if customer_id is not None:
        query = query.where(e.customer_id == customer_id)
    if flow is not None:
        query = query.where(e.flow == flow)
    if since is not None:
        query = query.where(e.at >= since)
    if until is not None:
        query = query.where(e.at < until)
    rows = conn.execute(query.order_by(e.at, e.id).limit(limit))
    return [dict(row._mapping) for row in rows]


def groups(conn: Connection) -> list[dict[str, Any]]:
    """Every group by name, with its member count."""
    size = (
        select(func.count())
        .select_from(MEMBERS)
        .where(MEMBERS.c.group_id == GROUPS.c.id)
        .scalar_subquery()
    )
    query = select(GROUPS.c.id, GROUPS.c.name, GROUPS.c.created_at, size.label("members"))
    return [dict(row._mapping) for row in conn.execute(query.order_by(GROUPS.c.name))]


def group_id(conn: Connection, name: str) -> int | None:
    found = conn.execute(select(GROUPS.c.id).where(GROUPS.c.name == name)).scalar()
    return None if found is None else int(found)


def group_members(conn: Connection, gid: int, *, after: int = 0, limit: int = 100) -> list[int]:
    """system_ids of a group's members, in order after ``after``."""
    m = MEMBERS.c
    query = (
        select(m.customer_id)
        .where(m.group_id == gid, m.customer_id > after)
        .order_by(m.customer_id)
        .limit(limit)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def started_flows(conn: Connection) -> set[str]:
    return set(conn.execute(select(FLOWS.c.flow).where(FLOWS.c.started.is_(True))).scalars())
