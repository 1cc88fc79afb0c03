"""What one refresh of the screen reads from the store, in one go on the store thread: the
counts of every flow, and for the flow on screen its recent events, the selected object's
events and one page of the customers waiting there. Also one customer's journeys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from engine.model.fields import customer_label
from engine.model.flow import Flow
from engine.runtime.clock import Clock
from engine.runtime.explain import JourneyView, journeys_of
from engine.runtime.monitor import (
    Draining,
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
from engine.runtime.retry import failed_journeys, retry_failed
from engine.runtime.status import Status, status_of
from engine.store import Store
from engine.store.customers import load_customers
from engine.store.models import CUSTOMERS, JOURNEYS, STEPS
from engine.store.recordsets import records_of_customers

PAGE = 10
EVENTS = 40
FAILED = 10
RECORDS_SHOWN = 20  # records per collection on a customer's screen
S = STEPS.c
J = JOURNEYS.c
C = CUSTOMERS.c


def recent_activity(conn: Connection, flow: str, *, limit: int) -> list[EventView]:
    """The flow's newest events and steps together, newest first: a flow whose objects record
    no events (filters, waits, groups) still shows its customers moving. A step shows as kind
    ``step`` with its output and reason; a failure that has its ``failed`` event shows once,
    as the event."""
    events = recent_events(conn, flow, limit=limit)
    failures = {(e.object, e.customer_id, e.at) for e in events if e.kind == "failed"}
    query = (
        select(S.id, S.at, S.object, S.output, S.reason, J.customer_id, C.external_id, C.email)
        .select_from(
            STEPS.join(JOURNEYS, J.id == S.journey_id).outerjoin(
                CUSTOMERS,
                C.system_id == J.customer_id,
            )
        )
        .where(S.flow == flow)
        .order_by(S.id.desc())
        .limit(limit)
    )
    steps = [
        EventView(
            -r.id,  # steps and events number apart; negative ids keep rows' keys distinct
            "step",
            r.at,
            r.customer_id,
            customer_label(
                {"external_id": r.external_id, "email": r.email, "system_id": r.customer_id}
            ),
            flow,
            r.object,
            {"reason": f"{r.output}: {r.reason}" if r.output else r.reason},
        )
        for r in conn.execute(query)
        if r.output is not None or (r.object, r.customer_id, r.at) not in failures
    ]
    both = sorted([*events, *steps], key=lambda e: (e.at, e.id > 0, abs(e.id)), reverse=True)
    return both[:limit]


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
    failed: Sequence[FailedView] = ()  # the newest failed journeys at the object in the panel
    failed_total: int = 0
    drains: Mapping[str, Sequence[Draining]] = field(default_factory=dict)  # older versions


@dataclass(frozen=True)
class FailedView:
    """A failed journey at an object, for the panel: who, when and why."""

    journey_id: int
    customer: str
    at: datetime | None
    reason: str


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
            failed: Sequence[FailedView] = ()
            failed_total = 0
            if flow is not None and flow in self.flows:
                events = recent_activity(conn, flow, limit=EVENTS)
                if oid is not None and oid in self.flows[flow].objects:
                    object_events = recent_events(conn, flow, oid, limit=EVENTS)
                    failed, failed_total = self._failed(conn, self.flows[flow], oid)
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
                failed=failed,
                failed_total=failed_total,
                drains=dict(self.monitor.drains),
            )

    def _failed(self, conn: Connection, flow: Flow, oid: str) -> tuple[list[FailedView], int]:
        """The newest failed journeys at ``oid`` (what a retry would put back) and their count."""
        found = failed_journeys(conn, flow, object_id=oid)
        newest = sorted(found, key=lambda f: f.id, reverse=True)[:FAILED]
        customers = load_customers(conn, [f.customer_id for f in newest], self.store.project)
        views = [
            FailedView(
                f.id,
                customer_label(customers.get(f.customer_id, {"system_id": f.customer_id})),
                f.at,
                f.reason or "",
            )
            for f in newest
        ]
        return views, len(found)

    def retry(self, flow_name: str, object_id: str) -> int:
        """Put the failed journeys at ``object_id`` back there (``sluis retry FLOW --object``);
        how many."""
        flow = self.flows[flow_name]
        return sum(retry_failed(self.store, flow, self.clock.now(), object_id=object_id).values())

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
