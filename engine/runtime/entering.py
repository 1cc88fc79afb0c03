"""Customers entering a flow at a start object: the reentry rule, one journey per customer
(unless the flow lets them in again at once), and the first step, set-based in the caller's
transaction; for a segment (a selection), in the database without reading the customers. Also
what a run context queued for entering and for after the commit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from engine.errors import SluisError
from engine.model.flow import Flow
from engine.sdk.batch import Entry
from engine.sdk.context import RunContext
from engine.sdk.segments import Segment
from engine.store import journeys as sql
from engine.store.segments import SegmentEntry, enter_chosen
from engine.store.segments import enter_segment as enter_in_database

log = logging.getLogger("sluis.runtime")
HAND_REASON = "started by hand"  # the first step of customers a person let in


def enter(
    conn: Connection,
    flow: Flow,
    object_id: str,
    entries: Sequence[Entry],
    now: datetime,
    seen: set[int] | None = None,
) -> list[int]:
    """Make the journeys of ``entries`` at ``object_id``; returns their ids. ``seen`` holds
    the customers that entered earlier in the same firing."""
    if not entries:
        return []
    spec = flow.objects[object_id]
    blocked = sql.reentry_blocked(conn, flow.name, flow.reentry, [e.customer_id for e in entries])
    output = spec.default_output
    target = flow.target(object_id, output)
    seen = set() if seen is None else seen
    new = []
    for entry in entries:
        if entry.customer_id in blocked:
            continue
        if flow.reentry != "always":
            if entry.customer_id in seen:
                continue
            seen.add(entry.customer_id)
        new.append(
            sql.NewJourney(
                customer_id=entry.customer_id,
                data=entry.data,
                via=object_id,
                reason=entry.reason or spec.kind.entry_reason,
                output=output,
                target=target,
            )
        )
    return sql.enter(conn, flow.name, object_id, new, now, flow.version)


def enter_segment(
    conn: Connection,
    flow: Flow,
    object_id: str,
    segment: Segment,
    ctx: RunContext,
    now: datetime,
) -> int:
    """Let ``segment`` (chosen at the context's time) in at ``object_id`` at ``now`` as
    ``enter`` would let its customers in, one by one in system_id order, with the object's
    entry reason; return how many entered."""
    entry = _segment_entry(flow, object_id, now, flow.objects[object_id].kind.entry_reason)
    return enter_in_database(
        conn, ctx.project, segment.where, entry, now=ctx.now, today=ctx.today, group=segment.group
    )


def enter_by_hand(
    conn: Connection, flow: Flow, object_id: str, segment: Segment, ctx: RunContext
) -> tuple[int, int]:
    """Let ``segment`` in at ``object_id`` now, started by hand (``sluis start --where``), as
    ``enter_segment`` does; return how many entered and how many were chosen."""
    entry = _segment_entry(flow, object_id, ctx.now, HAND_REASON)
    return enter_chosen(
        conn, ctx.project, segment.where, entry, now=ctx.now, today=ctx.today, group=segment.group
    )


def _segment_entry(flow: Flow, object_id: str, now: datetime, reason: str) -> SegmentEntry:
    output = flow.objects[object_id].default_output
    return SegmentEntry(
        at=now,
        flow=flow.name,
        version=flow.version,
        reentry=flow.reentry,
        start=object_id,
        output=output,
        reason=reason,
        target=flow.target(object_id, output),
    )


def enter_from(conn: Connection, flow: Flow, object_id: str, ctx: RunContext, now: datetime) -> int:
    """Run the context's entering writes (see ``RunContext.enter``)."""
    count = 0
    for change in ctx.entering:
        seen: set[int] = set()

        def entering(entries: Sequence[Entry], seen: set[int] = seen) -> None:
            nonlocal count
            count += len(enter(conn, flow, object_id, entries, now, seen))

        change(conn, entering)
    return count


def after_commit(ctx: RunContext) -> None:
    """Run what the context queued for after its commit (moving imported files away)."""
    for action in ctx.committed:
        try:
            action()
        except SluisError as exc:
            log.warning("after %s of flow %s committed: %s", ctx.object_id, ctx.flow.name, exc)
