"""Events from outside a batch (opens, clicks, bounces, unsubscribes, replay's ``--events``):
stored, they wake the journeys waiting for them and let ``event`` start objects of started
flows take the customers in, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.runtime.entering import enter
from engine.store import journeys as sql
from engine.store.events import EventRecord, add_events

if TYPE_CHECKING:
    from engine.runtime.runner import Runtime


@dataclass(frozen=True)
class IncomingEvent:
    """An event about a customer (open, click, bounce, unsubscribe, ...)."""

    kind: str
    customer_id: int
    at: datetime
    flow: str | None = None
    object: str | None = None
    data: Mapping[str, Any] | None = None


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
        for e in events:
            sql.wake(conn, e.customer_id, e.kind, e.at)
        for name in sorted(started):
            flow = runtime.flows[name]
            for oid in flow.starts:
                obj = flow.instance(oid)
                accept = getattr(obj, "accepts", None)
                if accept is None:
                    continue
                entries = [entry for e in events if (entry := accept(e)) is not None]
                enter(conn, flow, oid, entries, runtime.clock.now())
