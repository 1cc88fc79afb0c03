"""``/api/v1/events``: the activity (sent, open, click, bounce, unsubscribe, http_ok, failed,
...), in order of time, paged, and filtered by kind, customer, flow and period."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from api.deps import StateDep, api_access
from api.errors import ERRORS
from api.jsonbody import CheckedRoute
from api.models import MAX_ID, EventPublic, Page, Time
from api.pagination import CursorQuery, LimitQuery, decode, page
from engine.store import queries

router = APIRouter(
    route_class=CheckedRoute,
    prefix="/events",
    tags=["events"],
    dependencies=[Depends(api_access)],
    responses=ERRORS,
)


@router.get("", response_model=Page[EventPublic])
def list_events(
    state: StateDep,
    kind: Annotated[
        list[Annotated[str, Field(max_length=50)]],
        Query(max_length=20, description="only these kinds (repeat)"),
    ] = [],  # noqa: B006
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    flow: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[Time | None, Query(description="from this time on (inclusive)")] = None,
    until: Annotated[Time | None, Query(description="before this time")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[EventPublic]:
    """Events in order of time (then id). Times without an offset are UTC."""
    place = decode(cursor, datetime, int)
    with state.store.db.read() as conn:
        rows = queries.events(
            conn,
            after=(place[0], place[1]) if place else None,
            limit=limit + 1,
            kinds=kind,
            customer_id=customer_id,
            flow=flow,
            since=since,
            until=until,
        )
    shown, following = page(rows, limit, lambda r: (r["at"], r["id"]))
    return Page(items=[EventPublic.model_validate(r) for r in shown], next=following)
