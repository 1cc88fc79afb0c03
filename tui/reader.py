"""What one refresh of the screen reads from the store, in one go on the store thread: the
counts of every flow, and for the flow on screen its recent events, the selected object's
events and one page of the customers waiting there. Also one customer's journeys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.model.flow import Flow
from engine.runtime.clock import Clock
from engine.runtime.explain import JourneyView, journeys_of
from engine.runtime.monitor import (
    EventView,
    FlowTotals,
    Monitor,
    ObjectCounts,
    Page,
    flow_states,
    has_journeys,
    recent_events,
    waiting_at,
)
from engine.runtime.status import Status, status_of
from engine.store import Store
from engine.store.customers import load_customers
from engine.store.recordsets import records_of_customers

PAGE = 10
EVENTS = 40
RECORDS_SHOWN = 20  # records per collection on a customer's screen


@dataclass(frozen=True)
class Focus:
    """What the screen shows, so that a refresh reads just that."""

    flow: str | None = None
    object: str | None = None
    offset: int = 0
    search: str = ""


@dataclass(frozen=True)
class Snapshot:
    """Everything on screen that comes from the store, as of ``now``."""

    now: datetime
    empty: bool
    started: Mapping[str, bool]
    counts: Mapping[str, Mapping[str, ObjectCounts]]
    totals: Mapping[str, FlowTotals]
    events: Sequence[EventView] = ()
    object_events: Sequence[EventView] = ()
    waiting: Page | None = None
    status: Status | None = None  # workers, claims, ready journeys and lag (the header)


@dataclass(frozen=True)
class CustomerJourneys:
    """A customer (typed fields) and its journeys with their steps, as ``sluis explain``."""

    customer: Mapping[str, Any]
    journeys: Sequence[JourneyView]
    # its newest datamodel records per collection (at most RECORDS_SHOWN each)
    records: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)


class Reader:
    """Reads snapshots for the TUI; lives on the store thread with its ``Monitor``."""

    def __init__(self, store: Store, flows: Iterable[Flow], clock: Clock) -> None:
        self.store = store
        self.flows = {flow.name: flow for flow in flows}
        self.clock = clock
        self.monitor = Monitor(self.flows.values())

    def snapshot(self, focus: Focus) -> Snapshot:
        with self.store.db.read() as conn:
            counts = self.monitor.refresh(conn)
            totals = {name: FlowTotals.of(self.flows[name], c) for name, c in counts.items()}
            events: Sequence[EventView] = ()
            object_events: Sequence[EventView] = ()
            waiting = None
            flow, oid = focus.flow, focus.object
            if flow is not None and flow in self.flows:
                events = recent_events(conn, flow, limit=EVENTS)
                if oid is not None and oid in self.flows[flow].objects:
                    object_events = recent_events(conn, flow, oid, limit=EVENTS)
                    waiting = waiting_at(
                        conn,
                        flow,
                        oid,
                        search=focus.search,
                        offset=focus.offset,
                        limit=PAGE,
                    )
            now = self.clock.now()
            return Snapshot(
                now=now,
                empty=not has_journeys(conn),
                started=flow_states(conn),
                counts=counts,
                totals=totals,
                events=events,
                object_events=object_events,
                waiting=waiting,
                status=status_of(conn, now, count_claimed=False),
            )

    def customer(self, customer_id: int) -> CustomerJourneys | None:
        with self.store.db.read() as conn:
            found = load_customers(conn, [customer_id], self.store.project)
            if customer_id not in found:
                return None
            project = self.store.project
            records = {
                name: records_of_customers(conn, name, [customer_id], project, RECORDS_SHOWN).get(
                    customer_id, ()
                )
                for name in project.settings.datamodel
            }
            return CustomerJourneys(found[customer_id], journeys_of(conn, [customer_id]), records)
