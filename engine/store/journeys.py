"""Journeys in SQL: entering, claiming ready batches under a lease, applying a batch's routing,
and waking journeys on events. Every function works on sets of journeys at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from engine.store.models import Claim, Event, Journey, Step

J = Journey.__table__  # type: ignore[attr-defined]
JC = J.c
STEPS = Step.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]
CLAIMS = Claim.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NewJourney:
    """A journey to create: the customer, where it stands after its first step, and the step."""

    customer_id: int
    data: Mapping[str, Any]
    via: str
    reason: str
    output: str | None
    target: str | None  # None: the journey ends at its start object


@dataclass(frozen=True)
class ClaimedBatch:
    claim_id: int
    flow: str
    object: str
    rows: list[Any]  # journey rows: id, customer_id, data, entered_at, arrived_at, via, release_id


@dataclass(frozen=True)
class Move:
    """Where one journey goes after its step."""

    journey_id: int
    output: str | None
    reason: str
    target: str | None
    data: Mapping[str, Any] | None = None
    release_id: int | None = None
    failed: bool = False


@dataclass(frozen=True)
class Wait:
    journey_id: int
    until: datetime | None
    wake_on: str | None
    data: Mapping[str, Any] | None = None


def reentry_blocked(
    conn: Connection, flow: str, reentry: str, customer_ids: Sequence[int]
) -> set[int]:
    """Customers who may not enter ``flow`` now under its reentry rule."""
    if reentry == "always" or not customer_ids:
        return set()
    blocked: set[int] = set()
    for start in range(0, len(customer_ids), 500):
        part = customer_ids[start : start + 500]
        query = select(JC.customer_id).where(JC.flow == flow, JC.customer_id.in_(part))
        if reentry == "after-exit":
            query = query.where(JC.state == "active")
        blocked.update(conn.execute(query.distinct()).scalars())
    return blocked


def enter(
    conn: Connection, flow: str, start: str, journeys: Sequence[NewJourney], now: datetime
) -> list[int]:
    """Create journeys with their first step at the start object; return their ids."""
    if not journeys:
        return []
    rows = [
        {
            "flow": flow,
            "customer_id": j.customer_id,
            "object": j.target or start,
            "state": "active" if j.target else "finished",
            "ready_at": now if j.target else None,
            "wake_on": None,
            "entered_at": now,
            "arrived_at": now,
            "via": j.via,
            "data": dict(j.data),
            "claim_id": None,
            "release_id": None,
        }
        for j in journeys
    ]
    ids = list(
        conn.execute(insert(J).returning(JC.id, sort_by_parameter_order=True), rows).scalars()
    )
    conn.execute(
        insert(STEPS),
        [
            {
                "journey_id": jid,
                "flow": flow,
                "object": start,
                "at": now,
                "output": j.output,
                "reason": j.reason,
            }
            for jid, j in zip(ids, journeys, strict=True)
        ],
    )
    return ids


def _ready(flows: Sequence[str], now: datetime) -> Any:
    return and_(JC.state == "active", JC.ready_at <= now, JC.claim_id.is_(None), JC.flow.in_(flows))


def claim(
    conn: Connection,
    *,
    owner: str,
    flows: Sequence[str],
    claims_all: Mapping[str, set[str]],
    now: datetime,
    lease: timedelta,
    size: int,
) -> ClaimedBatch | None:
    """Take the next ready batch under a lease: first a batch whose lease lapsed (its worker
    died), else the journeys ready longest at one object. ``claims_all`` names, per flow, the
    objects that take every journey waiting there (buckets)."""
    if not flows:
        return None
    postgres = conn.dialect.name == "postgresql"
    lapsed_query = select(CLAIMS).where(CLAIMS.c.lease_until < now, CLAIMS.c.flow.in_(flows))
    lapsed_query = lapsed_query.order_by(CLAIMS.c.id).limit(1)
    if postgres:
        lapsed_query = lapsed_query.with_for_update(skip_locked=True)
    lapsed = conn.execute(lapsed_query).first()
    if lapsed is not None:
        conn.execute(
            update(CLAIMS)
            .where(CLAIMS.c.id == lapsed.id)
            .values(owner=owner, lease_until=now + lease)
        )
        return ClaimedBatch(lapsed.id, lapsed.flow, lapsed.object, _claimed_rows(conn, lapsed.id))
    head_query = (
        select(JC.id, JC.flow, JC.object, JC.release_id)
        .where(_ready(flows, now))
        .order_by(JC.ready_at, JC.id)
        .limit(1)
    )
    if postgres:
        head_query = head_query.with_for_update(skip_locked=True)
    head = conn.execute(head_query).first()
    if head is None:
        return None
    at = and_(JC.flow == head.flow, JC.object == head.object, JC.claim_id.is_(None))
    if head.object in claims_all.get(head.flow, set()):
        members = select(JC.id).where(at, JC.state == "active")
    elif head.release_id is not None:
        members = select(JC.id).where(at, _ready(flows, now), JC.release_id == head.release_id)
    else:
        members = (
            select(JC.id)
            .where(at, _ready(flows, now), JC.release_id.is_(None))
            .order_by(JC.ready_at, JC.id)
            .limit(size)
        )
    if postgres:
        members = members.with_for_update(skip_locked=True)
    ids = list(conn.execute(members).scalars())
    if not ids:
        return None
    claim_id = conn.execute(
        insert(CLAIMS)
        .values(
            flow=head.flow, object=head.object, owner=owner, lease_until=now + lease, created_at=now
        )
        .returning(CLAIMS.c.id)
    ).scalar_one()
    for start in range(0, len(ids), 500):
        conn.execute(update(J).where(JC.id.in_(ids[start : start + 500])).values(claim_id=claim_id))
    return ClaimedBatch(claim_id, head.flow, head.object, _claimed_rows(conn, claim_id))


def _claimed_rows(conn: Connection, claim_id: int) -> list[Any]:
    query = (
        select(JC.id, JC.customer_id, JC.data, JC.entered_at, JC.arrived_at, JC.via, JC.release_id)
        .where(JC.claim_id == claim_id)
        .order_by(JC.arrived_at, JC.customer_id, JC.id)
    )
    return list(conn.execute(query))


def extend_lease(conn: Connection, claim_id: int, owner: str, until: datetime) -> bool:
    """Heartbeat: push the lease on; False when the claim is no longer ours."""
    result = conn.execute(
        update(CLAIMS)
        .where(CLAIMS.c.id == claim_id, CLAIMS.c.owner == owner)
        .values(lease_until=until)
    )
    return bool(result.rowcount)


def release_claim(conn: Connection, claim_id: int) -> None:
    """Give a claimed batch back untouched (graceful shutdown, or an error before routing)."""
    conn.execute(update(J).where(JC.claim_id == claim_id).values(claim_id=None))
    conn.execute(delete(CLAIMS).where(CLAIMS.c.id == claim_id))


def still_ours(conn: Connection, claim_id: int, owner: str) -> bool:
    query = select(CLAIMS.c.owner).where(CLAIMS.c.id == claim_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).scalar() == owner


def apply(
    conn: Connection,
    *,
    claim_id: int,
    flow: str,
    object_id: str,
    moves: Sequence[Move],
    waits: Sequence[Wait],
    data: Mapping[int, dict[str, Any]],
    now: datetime,
) -> None:
    """Commit a batch's routing: steps for journeys that left, new positions, holds. ``data``
    holds the merged entry data of journeys whose data changed."""
    if moves:
        conn.execute(
            insert(STEPS),
            [
                {
                    "journey_id": m.journey_id,
                    "flow": flow,
                    "object": object_id,
                    "at": now,
                    "output": m.output,
                    "reason": m.reason,
                }
                for m in moves
            ],
        )
    onward = [m for m in moves if m.target is not None]
    ended = [m for m in moves if m.target is None]
    if onward:
        conn.execute(
            update(J)
            .where(JC.id == bindparam("j_id"))
            .values(
                object=bindparam("j_object"),
                ready_at=now,
                arrived_at=now,
                wake_on=None,
                claim_id=None,
                release_id=bindparam("j_release"),
            ),
            [
                {"j_id": m.journey_id, "j_object": m.target, "j_release": m.release_id}
                for m in onward
            ],
        )
    if ended:
        conn.execute(
            update(J)
            .where(JC.id == bindparam("j_id"))
            .values(state=bindparam("j_state"), ready_at=None, wake_on=None, claim_id=None),
            [
                {"j_id": m.journey_id, "j_state": "failed" if m.failed else "finished"}
                for m in ended
            ],
        )
    if waits:
        conn.execute(
            update(J)
            .where(JC.id == bindparam("j_id"))
            .values(ready_at=bindparam("j_until"), wake_on=bindparam("j_wake"), claim_id=None),
            [{"j_id": w.journey_id, "j_until": w.until, "j_wake": w.wake_on} for w in waits],
        )
    if data:
        conn.execute(
            update(J).where(JC.id == bindparam("j_id")).values(data=bindparam("j_data")),
            [{"j_id": jid, "j_data": value} for jid, value in data.items()],
        )
    conn.execute(delete(CLAIMS).where(CLAIMS.c.id == claim_id))


def add_events(conn: Connection, events: Iterable[Mapping[str, Any]]) -> None:
    rows = [dict(e) for e in events]
    if rows:
        for row in rows:
            row.setdefault("data", {})
            for name in ("customer_id", "flow", "object", "journey_id"):
                row.setdefault(name, None)
        conn.execute(insert(EVENTS), rows)


def wake(conn: Connection, customer_id: int, kind: str, at: datetime) -> int:
    """Make journeys of the customer that wait for ``kind`` ready at ``at``."""
    result = conn.execute(
        update(J)
        .where(
            JC.customer_id == customer_id,
            JC.wake_on == kind,
            JC.state == "active",
            or_(JC.ready_at.is_(None), JC.ready_at > at),
        )
        .values(ready_at=at)
    )
    return int(result.rowcount)


def next_ready(conn: Connection, flows: Sequence[str]) -> datetime | None:
    """The earliest time a journey of these flows becomes ready."""
    if not flows:
        return None
    query = select(func.min(JC.ready_at)).where(
        JC.state == "active", JC.flow.in_(flows), JC.ready_at.is_not(None)
    )
    value = conn.execute(query).scalar()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value
