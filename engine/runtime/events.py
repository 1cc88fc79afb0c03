"""Events from outside a batch (opens, clicks, bounces, unsubscribes, replay's ``--events``):
stored, they wake the journeys waiting for them and let ``event`` start objects of started
flows take the customers in, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from engine.runtime.entering import enter
from engine.sdk.events import IncomingEvent as IncomingEvent  # where callers found it
from engine.store import journeys as sql
from engine.store.events import EventRecord, add_events

if TYPE_CHECKING:
    from engine.runtime.runner import Runtime


def record_events(runtime: Runtime, events: Sequence[IncomingEvent]) -> None:
    """Store events, wake the journeys waiting for them, and let ``event`` start objects
    of started flows take the customers in."""
    if not events:
        return
    started = set(runtime.started_flows())
    with runtime.store.db.write() as conn:
        add_events(
            conn,
            (
                EventRecord(e.kind, e.at, e.customer_id, e.flow, e.object, data=e.data or {})
                for e in events
            ),
        )
        woken: dict[tuple[str, datetime], list[int]] = {}
        for e in events:
            woken.setdefault((e.kind, e.at), []).append(e.customer_id)
        for (kind, at), customer_ids in woken.items():
            sql.wake(conn, customer_ids, kind, at)
        for name in sorted(started):
            flow = runtime.flows[name]
            for oid in flow.starts:
                obj = flow.instance(oid)
                entries = [e.entry() for e in events if obj.accepts(event=e)]
                enter(conn, flow, oid, entries, runtime.clock.now())
