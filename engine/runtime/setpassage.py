"""A batch's passage in the database: when the batch's object and every instant object its
journeys can reach from there decide set-based (``setbased.passes_in_database``), the whole
passage runs as a few statements per object (``engine/store/passing.py``) instead of journey
by journey in Python: no customer is loaded, no journey is read.

It gives what the journey-by-journey passage (``engine/runtime/passage.py``) gives: the same
steps with their reasons in the same order, the same writes, the journeys standing in the same
places, the same reports. Objects are taken in the same order too: the batch's object, then
the objects its journeys reached, in the order they first reached them, and so on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from engine.runtime import setbased
from engine.runtime.passage import BatchReport
from engine.sdk.decisions import AddToGroups, BatchDecision, SetFields
from engine.store.customers import add_chosen_to_groups
from engine.store.decisions import set_fields
from engine.store.passing import CameFrom, PassageSql

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.runtime.runner import Runtime
    from engine.sdk.context import RunContext


def pass_batch(
    conn: Connection,
    runtime: Runtime,
    flow: Flow,
    object_id: str,
    journey_ids: Sequence[int],
    now: datetime,
) -> list[BatchReport]:
    """Pass the journeys (standing at ``object_id``) through the set-based objects ahead of
    them, in the caller's transaction; one report per object and group of journeys there."""
    project = runtime.store.project
    paths = setbased.paths(flow, project)
    passage = PassageSql(conn, flow.name, journey_ids, now)
    reports = []
    stages: deque[tuple[str, CameFrom | None]] = deque([(object_id, None)])
    while stages:
        oid, came = stages.popleft()
        decision = paths[oid].decision
        assert decision is not None  # passes_in_database chose this passage
        ctx = runtime.context(flow, oid)
        stage, left = passage.decide(
            decision, oid, came, project=project, now=ctx.now, today=ctx.today
        )
        if decision.changes and left:
            _change(conn, ctx, decision, passage, CameFrom(stage, tuple(left)))
        outputs = sorted(left, key=lambda o: left[o].first)  # in the order journeys took them
        onward: dict[str, list[str | None]] = {}
        places: dict[str | None, list[str | None]] = {}
        for output in outputs:
            target = flow.target(oid, output)
            if target is not None and flow.objects[target].kind.instant:
                onward.setdefault(target, []).append(output)
            else:
                places.setdefault(target, []).append(output)
        for target, taken in places.items():
            passage.place(CameFrom(stage, tuple(taken)), target, first=came is None)
        stages.extend((target, CameFrom(stage, tuple(taken))) for target, taken in onward.items())
        counts = {output or "end": left[output].size for output in outputs}
        reports.append(BatchReport(flow.name, oid, sum(counts.values()), counts, now))
    return reports


def _change(
    conn: Connection, ctx: RunContext, decision: BatchDecision, passage: PassageSql, came: CameFrom
) -> None:
    """Make the decision's changes, in order, for the customers of the journeys that left:
    fields and groups named in SQL, the others through the services, as set-based objects
    in a passage in Python make them."""
    listed: list[tuple[int, int]] | None = None
    for change in decision.changes:
        if isinstance(change, SetFields):
            set_fields(conn, change, passage.chosen(came), ctx.project, ctx.now, ctx.today)
        elif isinstance(change, AddToGroups):
            add_chosen_to_groups(conn, passage.chosen(came), change.names, ctx.now)
        else:
            listed = passage.customers(came) if listed is None else listed
            with ctx.inside(conn):  # the services write at once
                setbased.make_changes(ctx, BatchDecision(decision.ways, (change,)), listed)
