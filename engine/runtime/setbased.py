"""Which way each instant object of a flow decides its batches: set-based, its batch decision
run in the database as a few statements per batch (``engine/store/decisions.py``), or journey
by journey in Python, and why.

The choice is made from the flow and the project alone, when a runtime adopts a deployed flow
(and ``sluis validate -v`` and ``sluis explain`` show the same), never from what a batch holds:
what can run in the database runs there for every batch, the rest never does. Both paths give
the same steps, reasons and writes (tests/engine/test_setbased.py)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from engine.model.flow import Flow
from engine.sdk.campaign import CampaignObject
from engine.sdk.decisions import BatchDecision, SetFields, changes_to
from engine.store import decisions as sql

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.model.project import Project
    from engine.sdk.batch import Batch, Journey, Routing
    from engine.sdk.context import Decide, RunContext
    from engine.store import Store

SET_BASED = "set-based"


@dataclass(frozen=True)
class DecisionPath:
    """How an instant object decides: ``decision`` set-based, else per journey ``why``."""

    decision: BatchDecision | None
    why: str = ""

    def __str__(self) -> str:
        return SET_BASED if self.decision is not None else f"per journey: {self.why}"


_PATHS: WeakKeyDictionary[Flow, dict[str, DecisionPath]] = WeakKeyDictionary()


def paths(flow: Flow, project: Project) -> dict[str, DecisionPath]:
    """The path of every instant object of ``flow``, chosen once per flow."""
    found = _PATHS.get(flow)
    if found is None:
        found = {
            oid: _choose(flow, oid, project)
            for oid, spec in flow.objects.items()
            if spec.kind.instant
        }
        _PATHS[flow] = found
    return found


def _choose(flow: Flow, object_id: str, project: Project) -> DecisionPath:
    spec, instance = flow.objects[object_id], flow.instance(object_id)
    decision = instance.batch_decision()
    if decision is None:
        return DecisionPath(None, f"the {spec.type} type decides in Python")
    if not _runs_its_decision(flow, object_id):
        # its own run may do more than its batch decision says
        return DecisionPath(None, f"the {spec.type} type decides in its own run")
    why = sql.refusal(decision, project)
    return DecisionPath(None, why) if why is not None else DecisionPath(decision)


def deployed_paths(store: Store, flow: str, version: int) -> dict[str, DecisionPath]:
    """The paths of a deployed version of a flow (0: the running one); nothing when the
    version is not stored or no longer valid (``sluis explain`` says what it can)."""
    from engine.errors import FlowError
    from engine.runtime.deploys import load_version
    from engine.store import versions

    with store.db.read() as conn:
        number = version or versions.running_version(conn, flow)
        stored = versions.version(conn, flow, number) if number else None
    if stored is None:
        return {}
    try:
        return paths(load_version(store.project, stored), store.project)
    except FlowError:
        return {}


def in_database(flow: Flow, object_id: str, project: Project) -> bool:
    """Whether the object's batches are decided in the database."""
    path = paths(flow, project).get(object_id)
    return path is not None and path.decision is not None


def passes_in_database(flow: Flow, object_id: str, project: Project) -> bool:
    """Whether a batch at ``object_id`` passes wholly in the database: it, and every instant
    object its journeys can reach from it through instant objects, decides set-based."""
    seen: set[str] = set()
    todo = [object_id]
    while todo:
        oid = todo.pop()
        if oid in seen:
            continue
        if not in_database(flow, oid, project) or not _runs_its_decision(flow, oid):
            return False
        seen.add(oid)
        for output in flow.objects[oid].outputs:
            target = flow.target(oid, output)
            if target is not None and flow.objects[target].kind.instant:
                todo.append(target)
    return True


def _runs_its_decision(flow: Flow, object_id: str) -> bool:
    """Whether the object's ``run`` is still the one that runs its batch decision (a passage
    in the database does not call it; an instance may have been given its own since)."""
    run = flow.instance(object_id).run
    return getattr(run, "__func__", None) is CampaignObject.run


def reads_customers(flow: Flow, object_id: str, project: Project) -> bool:
    """Whether a batch of the object needs its customers loaded first (not when the database
    decides it)."""
    return flow.instance(object_id).needs_customers() and not in_database(flow, object_id, project)


def deciding(ctx: RunContext, conn: Connection | None = None) -> RunContext:
    """``ctx`` made to run its object's batch decision in the database when that is the
    object's path; the decision reads through ``conn`` (the passage's transaction) when given,
    else in a read transaction of its own."""
    if in_database(ctx.flow, ctx.object_id, ctx.project):
        ctx.decider = _decider(ctx, conn)
    return ctx


def _decider(ctx: RunContext, conn: Connection | None) -> Decide:
    def decide(decision: BatchDecision, batch: Batch, routing: Routing) -> None:
        journeys = batch.journeys
        ways = decision.ways
        if len(ways) == 1:
            routing.leave_all(journeys, ways[0].output, ways[0].reason)
        elif journeys:
            with nullcontext(conn) if conn is not None else ctx.store.db.read() as reading:
                chosen = sql.choose_ways(
                    reading,
                    decision,
                    flow=batch.flow,
                    object_id=batch.object_id,
                    journey_ids=[j.id for j in journeys],
                    project=ctx.project,
                    now=ctx.now,
                    today=ctx.today,
                )
            taking: list[list[Journey]] = [[] for _ in ways]
            for journey in journeys:
                way = chosen.get(journey.id)
                if way is not None:  # gone from the database: the passage fails it
                    taking[way].append(journey)
            for way_out, these in zip(ways, taking, strict=True):
                routing.leave_all(these, way_out.output, way_out.reason)
        make_changes(ctx, decision, [(j.id, j.customer_id) for j in journeys])

    return decide


def make_changes(
    ctx: RunContext, decision: BatchDecision, journeys: Sequence[tuple[int, int]]
) -> None:
    """Journal the decision's changes for the journeys that left (journey id, customer id),
    in order; fields are set by one statement."""
    for change in decision.changes:
        if isinstance(change, SetFields):
            _set_fields(ctx, change, [customer for _, customer in journeys])
        else:
            changes_to((change,), journeys, ctx)


def _set_fields(ctx: RunContext, change: SetFields, ids: Sequence[int]) -> None:
    project, now, today = ctx.project, ctx.now, ctx.today
    ctx.journal(lambda conn: sql.set_fields(conn, change, ids, project, now, today))
