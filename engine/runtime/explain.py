"""One customer's journeys with their steps, times and reasons (``sluis explain``, the TUI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from engine.errors import InputError
from engine.store.models import CUSTOMERS, JOURNEYS, STEPS
from engine.store.raw import among

C = CUSTOMERS.c
J = JOURNEYS
S = STEPS


@dataclass(frozen=True)
class StepView:
    object: str
    at: datetime
    output: str | None
    reason: str


@dataclass(frozen=True)
class JourneyView:
    id: int
    flow: str
    customer_id: int
    entered: datetime
    via: str
    state: str  # finished | waiting | failed
    at: str | None  # the object where a waiting journey is
    ready_at: datetime | None
    wake_on: str | None
    data: dict[str, Any]
    steps: list[StepView]
    version: int = 0  # the flow version it runs on (0: made before versions were kept)


def find_customer(conn: Connection, ident: str) -> Any:
    """A customer row by external_id, email or system_id."""
    clauses = [C.external_id == ident, C.email == ident]
    if ident.isdigit():
        clauses.append(C.system_id == int(ident))
    row = conn.execute(select(CUSTOMERS).where(or_(*clauses)).limit(1)).first()
    if row is None:
        raise InputError(f"no customer '{ident}' (looked for external_id, email and system_id)")
    return row


def state_of(state: str) -> str:
    return "waiting" if state == "active" else state


def journeys_of(
    conn: Connection,
    customer_ids: list[int] | None = None,
    flow: str | None = None,
    *,
    journey_ids: list[int] | None = None,
) -> list[JourneyView]:
    """Journeys (of the customers, of the flow, or these) with their steps, oldest first."""
    query = select(J).order_by(J.c.entered_at, J.c.id)
    if customer_ids is not None:
        query = query.where(J.c.customer_id.in_(customer_ids))
    if flow is not None:
        query = query.where(J.c.flow == flow)
    if journey_ids is not None:
        query = query.where(J.c.id.in_(journey_ids))
    rows = list(conn.execute(query))
    steps: dict[int, list[StepView]] = {r.id: [] for r in rows}
    ids = list(steps)
    for condition, _ in among(conn, S.c.journey_id, ids):
        for s in conn.execute(select(S).where(condition).order_by(S.c.id)):
            steps[s.journey_id].append(StepView(s.object, s.at, s.output, s.reason))
    return [
        JourneyView(
            id=r.id,
            flow=r.flow,
            customer_id=r.customer_id,
            entered=r.entered_at,
            via=r.via,
            state=state_of(r.state),
            at=r.object if r.state == "active" else None,
            ready_at=r.ready_at,
            wake_on=r.wake_on,
            data=dict(r.data or {}),
            steps=steps[r.id],
            version=r.version,
        )
        for r in rows
    ]
