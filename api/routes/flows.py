"""``/api/v1/flows``: the valid flows of the project, live counts per object and output, and
starting a flow for given customers."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api import services
from api.deps import StateDep, api_access
from api.endpoints import follow_deploys
from api.errors import ERRORS, field_problem
from api.jsonbody import CheckedRoute
from api.models import (
    DrainingVersion,
    FlowCounts,
    FlowObjectSummary,
    FlowRetried,
    FlowRetry,
    FlowStart,
    FlowStarted,
    FlowSummary,
    Message,
    ObjectCounts,
)
from api.state import AppState
from engine.model.flow import Flow
from engine.runtime.monitor import Monitor
from engine.runtime.retry import retry_failed
from engine.store.queries import started_flows

router = APIRouter(
    route_class=CheckedRoute,
    prefix="/flows",
    tags=["flows"],
    dependencies=[Depends(api_access)],
    responses={**ERRORS, 404: {"model": Message, "description": "no such flow"}},
)
NamePath = Annotated[str, Path(max_length=200, description="the flow's name")]


def _flow(state: AppState, name: str) -> Flow:
    follow_deploys(state)
    return services.flow(state, name)


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
    """Live counts per object: journeys waiting there (of the running version, and of older
    versions still draining), failed there, and steps per output; the draining versions."""
    flow = _flow(state, name)
    with state.store.db.read() as conn:
        monitor = Monitor([flow])
        counts = monitor.refresh(conn)[flow.name]
        drains = monitor.drains.get(flow.name, [])
        started = flow.name in started_flows(conn)
    return FlowCounts(
        name=flow.name,
        started=started,
        version=flow.version or None,
        objects=[
            ObjectCounts(
                id=o.id,
                type=o.type,
                waiting=counts[o.id].waiting,
                draining=sum(counts[o.id].draining.values()),
                failed=counts[o.id].failed,
                outputs=dict(counts[o.id].passed),
            )
            for o in flow.objects.values()
        ],
        draining=[
            DrainingVersion(version=d.version, journeys=d.journeys, objects=dict(d.at))
            for d in drains
        ],
    )


@router.post(
    "/{name}/start",
    response_model=FlowStarted,
    responses={409: {"model": Message, "description": "the start would strand journeys"}},
)
def start_flow(name: NamePath, body: FlowStart, state: StateDep) -> FlowStarted:
    """Enter the given customers (by system_id, external_id or e-mail) now at the flow's
    start object, with ``data`` as entry data, starting the flow first when it is not started.
    That start deploys the flow's file as ``sluis start`` does: refused (409, naming the
    objects, the counts and both fixes) when journeys would be stranded at removed objects,
    unless the file says ``moved:`` or ``drain`` is true; its own selections do not fire for
    it. A flow that runs already keeps its running version. The flow's reentry rule may keep
    some customers out: ``journeys`` lists those made."""
    _flow(state, name)
    key, values = body.named()
    customers = services.resolve_customers(state, key, values)
    started = services.start_flow(
        state, name, customers, at=body.at, data=body.data, drain=body.drain
    )
    return FlowStarted(flow=name, started=started.started, journeys=started.journeys)


@router.post("/{name}/retry", response_model=FlowRetried)
def retry_flow(name: NamePath, body: FlowRetry, state: StateDep) -> FlowRetried:
    """Failed journeys run again: each goes back to the object where it failed (so do
    journeys that ended through an unrouted ``failed`` output; a mapped one is left alone),
    optionally only at ``object``, failed since ``since``, of ``customers``."""
    flow = _flow(state, name)
    if body.object is not None and body.object not in flow.objects:
        raise field_problem(
            ("body", "object"),
            f"{flow.name} has no object '{body.object}'; its objects: " + ", ".join(flow.objects),
        )
    since = body.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    counts = retry_failed(
        state.store,
        flow,
        state.runtime.clock.now(),
        object_id=body.object,
        since=since,
        customer_ids=body.customers,
    )
    return FlowRetried(flow=flow.name, retried=sum(counts.values()), objects=dict(counts))
