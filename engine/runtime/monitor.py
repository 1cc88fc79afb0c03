"""What is happening in flows, read cheaply from the store: per object the customers waiting
there now, how many left by each output, how many failed there; flow totals; recent events;
the customers waiting at an object; older versions of a flow still draining. The TUI
refreshes these every second; the API can serve them as they are.

Waiting and failed counts are index range counts on ``journeys(flow, object, state, ...)``.
Passed counts come from the steps, which are only ever added: ``Monitor`` counts them once per
``(flow, object, output)`` on
``steps(flow, object, output)``, then on every refresh counts only the steps added since (a
range of ids). On PostgreSQL, where ids can become visible out of
order, the newest ``settle`` ids are counted afresh each time rather than taken as final.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from engine.model.fields import customer_label
from engine.model.flow import Flow
from engine.store import versions
from engine.store.models import CUSTOMERS, EVENTS, FLOW_STATES, JOURNEYS, STEPS

J = JOURNEYS.c
S = STEPS.c
E = EVENTS.c
C = CUSTOMERS.c
FLOWS = FLOW_STATES.c
END = "end"  # the passed count of an object without outputs (its steps have no output)
POSTGRES_SETTLE = 10_000
DRAIN_RECHECK = 30.0  # seconds before a flow found without draining journeys is looked at again

StepKey = tuple[str, str, str | None]  # flow, object, output (None: failed, or an end)


@dataclass(frozen=True)
class ObjectCounts:
    """One object's live counts. While older versions of the flow drain (``sluis start
    --drain``), ``waiting`` counts the running version's journeys and ``draining`` those of
    each older version."""

    waiting: int
    passed: Mapping[str, int]  # output -> customers who left by it ("end" for end objects)
    failed: int
    draining: Mapping[int, int] = field(default_factory=dict)  # older version -> waiting here


@dataclass(frozen=True)
class Draining:
    """An older version of a flow whose journeys finish on it while new entries take the
    running version: how many wait at each object (objects the running version may lack)."""

    version: int
    at: Mapping[str, int]

    @property
    def journeys(self) -> int:
        return sum(self.at.values())


@dataclass(frozen=True)
class FlowTotals:
    """A flow's totals for the flow list: customers who entered, wait now, failed."""

    entered: int
    waiting: int
    failed: int

    @classmethod
    def of(cls, flow: Flow, counts: Mapping[str, ObjectCounts]) -> FlowTotals:
        """Totals summed from the object counts (entered = left the start objects)."""
        return cls(
            entered=sum(sum(counts[s].passed.values()) for s in flow.starts if s in counts),
            waiting=sum(c.waiting + sum(c.draining.values()) for c in counts.values()),
            failed=sum(c.failed for c in counts.values()),
        )


def _step_keys(flow: Flow) -> list[tuple[str, str | None]]:
    """The (object, output) pairs of a flow's steps: every output, and no output, which is
    the step of a journey that failed there (or ended at an object without outputs)."""
    return [(oid, output) for oid, spec in flow.objects.items() for output in (*spec.outputs, None)]


def journey_counts(conn: Connection, flow: Flow) -> dict[str, tuple[int, int]]:
    """Per object: journeys waiting there now and journeys that failed there (two index range
    counts each; a failed journey that is retried counts as waiting again)."""
    return {
        oid: (_journeys_at(conn, flow, oid, "active"), _journeys_at(conn, flow, oid, "failed"))
        for oid in flow.objects
    }


def _journeys_at(conn: Connection, flow: Flow, oid: str, state: str) -> int:
    query = select(func.count()).where(J.flow == flow.name, J.object == oid, J.state == state)
    return int(conn.execute(query).scalar_one())


def step_counts(conn: Connection, flow: Flow, *, upto: int | None = None) -> Counter[StepKey]:
    """Steps per (flow, object, output) of one flow, with step ids up to ``upto``: one index
    range count per output."""
    counts: Counter[StepKey] = Counter()
    for oid, output in _step_keys(flow):
        where = [S.flow == flow.name, S.object == oid]
        where.append(S.output.is_(None) if output is None else S.output == output)
        if upto is not None:
            where.append(S.id <= upto)
        value = int(conn.execute(select(func.count()).where(*where)).scalar_one())
        if value:
            counts[(flow.name, oid, output)] = value
    return counts


def new_steps(conn: Connection, after: int, upto: int | None = None) -> Counter[StepKey]:
    """Steps of every flow with ids after ``after`` (and up to ``upto``), per (flow, object,
    output). Counted here rather than by GROUP BY, so the database reads just that range of
    ids (SQLite would rather walk a whole index to get the groups in order)."""
    where = [S.id > after]
    if upto is not None:
        where.append(S.id <= upto)
    return Counter(
        (f, o, out) for f, o, out in conn.execute(select(S.flow, S.object, S.output).where(*where))
    )


def last_step_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(S.id))).scalar() or 0)


class Monitor:
    """Live counts of some flows, refreshed cheaply. Passed counts come from the steps:
    counted in full once, then only the steps added since each refresh. Waiting and failed
    counts are counted afresh each time."""

    def __init__(self, flows: Iterable[Flow], *, settle: int | None = None) -> None:
        self.flows = {flow.name: flow for flow in flows}
        self.settle = settle
        self.drains: dict[str, list[Draining]] = {}  # as of the last refresh
        self._undrained: dict[str, tuple[int, float]] = {}  # flow -> (running, when seen)
        self._settled: Counter[StepKey] = Counter()
        self._edge: int | None = None  # steps up to this id are in _settled
        self._keys = {
            (flow.name, oid, output)
            for flow in self.flows.values()
            for oid, output in _step_keys(flow)
        }

    def refresh(self, conn: Connection) -> dict[str, dict[str, ObjectCounts]]:
        """Counts per object of every flow."""
        sqlite = conn.dialect.name == "sqlite"
        settle = self.settle if self.settle is not None else 0 if sqlite else POSTGRES_SETTLE
        top = last_step_id(conn)
        edge = max(top - settle, 0)
        if self._edge is None:
            # a SQLite read sees one snapshot, so the counts agree with ``top`` unbounded
            upto = None if sqlite and edge == top else edge
            for flow in self.flows.values():
                self._settled.update(step_counts(conn, flow, upto=upto))
        elif edge > self._edge:
            self._settled.update(self._watched(new_steps(conn, self._edge, edge)))
        self._edge = edge if self._edge is None else max(edge, self._edge)
        steps = self._settled + self._watched(new_steps(conn, self._edge))
        self.drains = self._drains(conn)
        return {
            name: self._counts(conn, flow, steps, self.drains.get(name, ()))
            for name, flow in self.flows.items()
        }

    def _drains(self, conn: Connection) -> dict[str, list[Draining]]:
        """The older versions of each flow that still hold journeys. Nothing enters an older
        version, so a flow found without any is looked at again only after a deploy or
        ``DRAIN_RECHECK`` seconds (a retry may put an old journey back)."""
        moment = time.monotonic()
        found: dict[str, list[Draining]] = {}
        for name, deployed in versions.deployed(conn).items():
            running = deployed.version
            seen = self._undrained.get(name)
            if name not in self.flows or running <= 1:
                continue  # no older version to drain
            if seen is not None and seen[0] == running and moment - seen[1] < DRAIN_RECHECK:
                continue
            older = _draining(conn, name, running)
            if older:
                found[name] = older
                self._undrained.pop(name, None)
            else:
                self._undrained[name] = (running, moment)
        return found

    def _watched(self, counts: Counter[StepKey]) -> Counter[StepKey]:
        """The counts of the watched flows' objects and outputs."""
        return Counter({k: n for k, n in counts.items() if k in self._keys})

    @staticmethod
    def _counts(
        conn: Connection, flow: Flow, steps: Counter[StepKey], drains: Iterable[Draining]
    ) -> dict[str, ObjectCounts]:
        result = {}
        for oid, (waiting, failed) in journey_counts(conn, flow).items():
            spec = flow.objects[oid]
            passed = {o: n for o in spec.outputs if (n := steps[(flow.name, oid, o)])}
            if not spec.outputs and (ended := steps[(flow.name, oid, None)]):
                passed[END] = ended
            older = {d.version: n for d in drains if (n := d.at.get(oid, 0))}
            running = max(0, waiting - sum(older.values()))
            result[oid] = ObjectCounts(running, passed, failed, older)
        return result


def counts_of(conn: Connection, flow: Flow) -> dict[str, ObjectCounts]:
    """One flow's counts per object, counted in full (the API's answer; the TUI keeps a
    ``Monitor`` and counts only what changed)."""
    return Monitor([flow]).refresh(conn)[flow.name]


def _draining(conn: Connection, flow: str, running: int) -> list[Draining]:
    older = versions.draining_at(conn, flow, running)
    return [Draining(number, at) for number, at in sorted(older.items())]


def drain_line(flow: Flow, drains: Sequence[Draining], *, most: int = 3) -> str:
    """``version 1 drains: 5 journeys still on it (3 at wait-nl, 2 at mail) · new entries take
    version 2``, one part per draining version; "" when none drains."""
    parts = []
    for drain in drains:
        places = sorted(drain.at.items(), key=lambda item: (-item[1], item[0]))
        shown = ", ".join(f"{n:,} at {oid}" for oid, n in places[:most])
        if len(places) > most:
            shown += ", ..."
        plural = "s" if drain.journeys != 1 else ""
        parts.append(
            f"version {drain.version} drains: {drain.journeys:,} journey{plural} still on it "
            f"({shown})"
        )
    if parts and flow.version:
        parts.append(f"new entries take version {flow.version}")
    return " · ".join(parts)


def flow_states(conn: Connection) -> dict[str, bool]:
    """Whether each flow that was ever started is started now."""
    return {row.flow: bool(row.started) for row in conn.execute(select(FLOWS.flow, FLOWS.started))}


def has_journeys(conn: Connection) -> bool:
    """False while no customer ever entered any flow (an empty database)."""
    return conn.execute(select(J.id).limit(1)).first() is not None


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventView:
    """One event with the customer's label (external_id, else email, else system_id)."""

    id: int
    kind: str
    at: datetime
    customer_id: int | None
    customer: str | None
    flow: str | None
    object: str | None
    data: Mapping[str, Any]


def _label(external_id: str | None, email: str | None, system_id: int | None) -> str | None:
    if system_id is None:  # an event of no customer (a start object's failed firing)
        return None
    return customer_label({"external_id": external_id, "email": email, "system_id": system_id})


def recent_events(
    conn: Connection, flow: str, object_id: str | None = None, *, limit: int = 50
) -> list[EventView]:
    """The newest events of a flow (at one object when given), newest first (in the order
    they were recorded, which the indexes on (flow, id) and (flow, object) give for free)."""
    query = (
        select(E.id, E.kind, E.at, E.customer_id, E.flow, E.object, E.data, C.external_id, C.email)
        .select_from(EVENTS.outerjoin(CUSTOMERS, C.system_id == E.customer_id))
        .where(E.flow == flow)
        .order_by(E.id.desc())
        .limit(limit)
    )
    if object_id is not None:
        query = query.where(E.object == object_id)
    return [
        EventView(
            r.id,
            r.kind,
            r.at,
            r.customer_id,
            _label(r.external_id, r.email, r.customer_id),
            r.flow,
            r.object,
            dict(r.data or {}),
        )
        for r in conn.execute(query)
    ]


# -- customers waiting at an object ------------------------------------------------------


@dataclass(frozen=True)
class WaitingCustomer:
    """A customer's journey waiting at an object, and until when."""

    journey_id: int
    customer_id: int
    external_id: str | None
    email: str | None
    arrived_at: datetime
    ready_at: datetime | None  # None: waits for an event only
    wake_on: str | None

    @property
    def label(self) -> str:
        return _label(self.external_id, self.email, self.customer_id) or ""


@dataclass(frozen=True)
class Page:
    """One page of waiting customers; ``more`` tells whether a next page exists."""

    rows: Sequence[WaitingCustomer]
    offset: int
    limit: int
    more: bool


def waiting_at(
    conn: Connection,
    flow: str,
    object_id: str,
    *,
    search: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> Page:
    """Customers waiting at an object, those due first first; ``search`` keeps those whose
    external_id or email contains it (any case)."""
    query = (
        select(J.id, J.customer_id, C.external_id, C.email, J.arrived_at, J.ready_at, J.wake_on)
        .select_from(JOURNEYS.join(CUSTOMERS, C.system_id == J.customer_id))
        .where(J.flow == flow, J.object == object_id, J.state == "active")
        .order_by(J.ready_at, J.id)
        .offset(offset)
        .limit(limit + 1)
    )
    if search and search.strip():
        pattern = f"%{_escape(search.strip().lower())}%"
        query = query.where(
            or_(
                func.lower(C.external_id).like(pattern, escape="\\"),
                func.lower(C.email).like(pattern, escape="\\"),
            )
        )
    rows = [WaitingCustomer(*row) for row in conn.execute(query)]
    return Page(rows[:limit], offset, limit, len(rows) > limit)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
