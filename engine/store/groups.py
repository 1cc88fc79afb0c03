"""Groups beyond membership changes (those are in ``customers.py``): deleting a group, and
whether a customer is a member. The caller owns the transaction."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from engine.store.models import GROUPS, MEMBERSHIPS

MEMBERS = MEMBERSHIPS


def delete_group(conn: Connection, name: str) -> int | None:
    """Delete a group with its memberships; how many members it had, or None when there is
    no such group. Flows that add to a group of that name make it again."""
    gid = conn.execute(select(GROUPS.c.id).where(GROUPS.c.name == name)).scalar()
    if gid is None:
        return None
    removed = conn.execute(delete(MEMBERS).where(MEMBERS.c.group_id == gid)).rowcount
    conn.execute(delete(GROUPS).where(GROUPS.c.id == gid))
    return int(removed)


def is_member(conn: Connection, gid: int, customer_id: int) -> bool:
    query = select(MEMBERS.c.customer_id).where(
        MEMBERS.c.group_id == gid, MEMBERS.c.customer_id == customer_id
    )
    return conn.execute(query).first() is not None
