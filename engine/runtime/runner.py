"""The runtime: moves customers through started flows in batches.

A worker repeatedly fires due start objects, then claims a ready batch (the journeys at one
object whose time has come) under a lease, runs the object on the whole batch, and commits the
routing of every journey with its steps, events and writes in one transaction. The same code
runs in production (system clock, real effects) and in replay (virtual clock, captured effects).

``Runtime`` holds what a run shares (store, flows, clock, effects, lease) and gives the
runtime's jobs one door each; the jobs live beside it: ``deploys`` (start, stop, started
flows), ``firing`` (start objects whose time has come), ``entering``, ``events`` (events from
outside a batch) and ``batches`` (claim, run, commit, heartbeat). Their SQL is in
``engine.store``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from engine.errors import SluisError
from engine.model.flow import Flow
from engine.runtime import batches, deploys, entering, events, firing, setbased
from engine.runtime.clock import Clock
from engine.runtime.events import IncomingEvent as IncomingEvent
from engine.runtime.passage import BatchReport
from engine.runtime.plan import Plan
from engine.sdk.batch import Entry
from engine.sdk.context import RunContext
from engine.sdk.effects import Effects
from engine.sdk.segments import Segment
from engine.store import Store, triggers
from engine.store import journeys as sql


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Runtime:
    """Runs the flows of a project on one store with one clock and one set of effects."""

    def __init__(
        self,
        store: Store,
        flows: Iterable[Flow],
        clock: Clock,
        effects: Effects | None = None,
        *,
        owner: str | None = None,
        batch_size: int | None = None,
        passage_size: int | None = None,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.store = store
        self.flows = {flow.name: flow for flow in flows}
        self.clock = clock
        self.effects = effects or Effects()
        self.owner = owner or default_owner()
        self.batch_size = batch_size or store.project.settings.batch_size
        # journeys a batch passing wholly in the database takes (it holds the write lock)
        self.passage_size = passage_size or self.batch_size
        self.lease = lease
        self.on_batch: list[Callable[[BatchReport], None]] = []
        self._started: tuple[float, list[str]] | None = None  # see deploys.started_flows
        self.versions: dict[tuple[str, int], Flow] = {}  # older versions still in use
        self.generation = 0  # counts changes of ``flows`` (the API rebuilds its webhooks)
        self.claims_all: dict[str, set[str]] = {}
        for flow in self.flows.values():
            self.adopt(flow)

    # -- flows -----------------------------------------------------------------------------

    def flow(self, name: str) -> Flow:
        try:
            return self.flows[name]
        except KeyError:
            raise SluisError(f"no valid flow '{name}' in this project") from None

    def flow_at(self, name: str, version: int) -> Flow:
        """The flow as of a stored version (0: the running one)."""
        return deploys.flow_at(self, name, version)

    def adopt(self, flow: Flow) -> None:
        """Run ``flow`` (a deployed version, or a file not deployed yet) from now on."""
        self.flows[flow.name] = flow
        setbased.paths(flow, self.store.project)  # how its instant objects decide, chosen now
        self.claims_all.setdefault(flow.name, set()).update(
            oid for oid, spec in flow.objects.items() if spec.kind.claims_all
        )
        self.generation += 1

    def started_flows(self) -> list[str]:
        """The flows that run now, at their running versions (read at most once a
        second)."""
        return deploys.started_flows(self)

    def plan(self, flow: Flow) -> Plan:
        """What starting ``flow`` (a file) would change for its running version."""
        return deploys.plan(self, flow)

    def start(
        self, name: str, *, fire: bool = True, drain: bool = False, by: str | None = None
    ) -> Plan:
        """Deploy and start a flow: a changed file becomes a new version; its schedules,
        triggers and webhooks act from now on. Start objects without a schedule fire once,
        now (unless ``fire`` is False: a start by hand). ``drain``: journeys inside finish on
        their version. Refused when journeys would be stranded (``deploys.DeployRefused``)."""
        return deploys.start(self, name, fire=fire, drain=drain, by=by)

    def stop(self, name: str) -> None:
        """Stop a flow; journeys already in it stay where they are until it starts again."""
        deploys.stop(self, name)

    # -- entering --------------------------------------------------------------------------

    def context(self, flow: Flow, object_id: str) -> RunContext:
        return RunContext(
            now=self.clock.now(),
            project=self.store.project,
            flow=flow,
            object_id=object_id,
            store=self.store,
            effects=self.effects,
        )

    def fire_due(self) -> int:
        """Fire every start object whose time has come; return how many customers entered."""
        return firing.fire_due(self)

    def enter(self, flow_name: str, object_id: str, entries: Sequence[Entry]) -> list[int]:
        """Customers enter ``flow_name`` at ``object_id`` now (webhooks, starts by hand, replay
        entries); returns the ids of the journeys made (reentry rules may refuse some)."""
        flow = self.flow(flow_name)
        with self.store.db.write() as conn:
            return self.enter_in(conn, flow, object_id, entries)

    def enter_chosen(self, flow_name: str, object_id: str, segment: Segment) -> tuple[int, int]:
        """The customers of ``segment`` enter ``flow_name`` at ``object_id`` now, started by
        hand, in the database (one statement however many); returns how many entered and
        how many were chosen (reentry rules may refuse some)."""
        flow = self.flow(flow_name)
        ctx = self.context(flow, object_id)
        with self.store.db.write() as conn:
            return entering.enter_by_hand(conn, flow, object_id, segment, ctx)

    def enter_in(
        self, conn: Connection, flow: Flow, object_id: str, entries: Sequence[Entry]
    ) -> list[int]:
        """``enter`` inside the caller's transaction (the webhook stores and enters at once)."""
        return entering.enter(conn, flow, object_id, entries, self.clock.now())

    # -- events ----------------------------------------------------------------------------

    def record_events(self, incoming: Sequence[IncomingEvent]) -> None:
        """Store events, wake the journeys waiting for them, and let ``event`` start objects
        of started flows take the customers in."""
        events.record_events(self, incoming)

    # -- batches ---------------------------------------------------------------------------

    def run_batch(self) -> BatchReport | None:
        """Claim one ready batch, run its object on it and commit the routing; None when
        nothing is ready."""
        return batches.run_batch(self)

    def run_until_idle(self, limit: int | None = None) -> int:
        """Run batches until none is ready now; return how many ran."""
        count = 0
        while limit is None or count < limit:
            if self.run_batch() is None:
                break
            count += 1
        return count

    def next_due(self) -> datetime | None:
        """The earliest future moment at which something becomes due (a waiting journey or a
        start object's schedule), or None when nothing ever will."""
        started = self.started_flows()
        with self.store.db.read() as conn:
            moments = [sql.next_ready(conn, started), triggers.next_due(conn, started)]
        found = [m for m in moments if m is not None]
        return min(found) if found else None
