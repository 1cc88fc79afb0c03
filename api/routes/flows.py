"""``/api/v1/flows``: the valid flows of the project, live counts per object and output, and
starting a flow for given customers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from api.deps import StateDep, api_access
from api.endpoints import follow_deploys
from api.errors import ERRORS, field_problem
from api.models import (
    FlowCounts,
    FlowObjectSummary,
    FlowStart,
    FlowStarted,
    FlowSummary,
    Message,
    ObjectCounts,
)
from api.state import AppState
from engine.model.flow import Flow
from engine.runtime.monitor import counts_of
from engine.sdk.batch import Entry
from engine.store.queries import existing_customers, started_flows

router = APIRouter(
    prefix="/flows",
    tags=["flows"],
    dependencies=[Depends(api_access)],
    responses={**ERRORS, 404: {"model": Message, "description": "no such flow"}},
)
NamePath = Annotated[str, Path(max_length=200, description="the flow's name")]


def _flow(state: AppState, name: str) -> Flow:
    follow_deploys(state)
    flow = state.runtime.flows.get(name)
    if flow is None:
        known = ", ".join(sorted(state.runtime.flows)) or "none"
        raise HTTPException(404, f"no valid flow '{name}' in this project; flows: {known}")
    return flow


@router.get("", response_model=list[FlowSummary])
def list_flows(state: StateDep) -> list[FlowSummary]:
    """The flows of the project: the deployed versions, and the valid files of flows never
    started."""
    follow_deploys(state)
    with state.store.db.read() as conn:
        started = started_flows(conn)
    return [
        FlowSummary(
            name=flow.name,
            description=flow.description,
            started=flow.name in started,
            starts=list(flow.starts),
            objects=[FlowObjectSummary(id=o.id, type=o.type) for o in flow.objects.values()],
        )
        for flow in sorted(state.runtime.flows.values(), key=lambda f: f.name)
    ]


@router.get("/{name}", response_model=FlowCounts)
def get_flow(name: NamePath, state: StateDep) -> FlowCounts:
    """Live counts per object: journeys waiting there, failed there, and steps per output."""
    flow = _flow(state, name)
    with state.store.db.read() as conn:
        counts = counts_of(conn, flow)
        started = flow.name in started_flows(conn)
    return FlowCounts(
        name=flow.name,
        started=started,
        objects=[
            ObjectCounts(
                id=o.id,
                type=o.type,
                waiting=counts[o.id].waiting,
                failed=counts[o.id].failed,
                outputs=dict(counts[o.id].passed),
            )
            for o in flow.objects.values()
        ],
    )


@router.post("/{name}/start", response_model=FlowStarted)
def start_flow(name: NamePath, body: FlowStart, state: StateDep) -> FlowStarted:
    """Start the flow (when it is not started yet; its own selections do not fire for this
    start) and enter the given customers now at its start object, with ``data`` as entry
    data. The flow's reentry rule may keep some out: ``journeys`` lists those made."""
    flow = _flow(state, name)
    start_id = body.at or flow.starts[0]
    if start_id not in flow.starts:
        raise field_problem(
            ("body", "at"),
            f"'{start_id}' is not a start object of {flow.name}; its start objects: "
            + ", ".join(flow.starts),
        )
    if body.at is None and len(flow.starts) > 1:
        raise field_problem(
            ("body", "at"),
            f"{flow.name} has several start objects ({', '.join(flow.starts)}); choose one",
            "missing",
        )
    with state.store.db.read() as conn:
        unknown = sorted(set(body.customers) - existing_customers(conn, body.customers))
        was_started = flow.name in started_flows(conn)
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        raise field_problem(("body", "customers"), f"no customers with system_id {shown}")
    if not was_started:
        state.runtime.start(flow.name, fire=False)
    entries = [Entry(i, body.data, "started by API") for i in body.customers]
    with state.write() as conn:
        journeys = state.runtime.enter_in(conn, flow, start_id, entries)
    return FlowStarted(flow=flow.name, started=not was_started, journeys=journeys)
