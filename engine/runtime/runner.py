"""The runtime: moves customers through started flows in batches.

A worker repeatedly fires due start objects, then claims a ready batch (the journeys at one
object whose time has come) under a lease, runs the object on the whole batch, and commits the
routing of every journey with its steps, events and writes in one transaction. The same code
runs in production (system clock, real effects) and in replay (virtual clock, captured effects).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, select, update

from engine.errors import SluisError
from engine.model.flow import Flow
from engine.model.schedule import next_fire
from engine.runtime.clock import Clock
from engine.runtime.passage import BatchReport, Passage
from engine.sdk.batch import Batch, Entry, Journey, Routing, chunks_of
from engine.sdk.campaign import CronTrigger, Every, Once, Trigger
from engine.sdk.context import RunContext
from engine.sdk.effects import Effects
from engine.sdk.events import IncomingEvent as IncomingEvent  # where callers found it
from engine.store import Store
from engine.store import journeys as sql
from engine.store.customers import load_customers
from engine.store.models import FlowState, TriggerState
from engine.store.raw import execute_many, fetch, marks, time_param, time_value

log = logging.getLogger("sluis.runtime")
STARTED_TTL = 1.0  # seconds a runtime trusts its list of started flows
ENTER_CHUNK = 10_000  # journeys made per statement when a start object fires
BULK_ENTRY = 10_000  # a firing entering this many refreshes the journeys' statistics
FLOWS = FlowState.__table__  # type: ignore[attr-defined]
TRIGGERS = TriggerState.__table__  # type: ignore[attr-defined]


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
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.store = store
        self.flows = {flow.name: flow for flow in flows}
        self.clock = clock
        self.effects = effects or Effects()
        self.owner = owner or default_owner()
        self.batch_size = batch_size or store.project.settings.batch_size
        self.lease = lease
        self.on_batch: list[Callable[[BatchReport], None]] = []
        self._started: tuple[float, list[str]] | None = None
        self._claims_all = {
            flow.name: {oid for oid, spec in flow.objects.items() if spec.kind.claims_all}
            for flow in self.flows.values()
        }

    # -- flows -----------------------------------------------------------------------------

    def flow(self, name: str) -> Flow:
        try:
            return self.flows[name]
        except KeyError:
            raise SluisError(f"no valid flow '{name}' in this project") from None

    def started_flows(self) -> list[str]:
        """The flows that run now. Read at most once a second: another process's start or
        stop shows within a second, and a busy worker saves a query per batch."""
        moment = time.monotonic()
        if self._started is not None and moment - self._started[0] < STARTED_TTL:
            return self._started[1]
        with self.store.db.read() as conn:
            names = conn.execute(select(FLOWS.c.flow).where(FLOWS.c.started.is_(True))).scalars()
            started = [n for n in names if n in self.flows]
        self._started = (moment, started)
        return started

    def start(self, name: str, *, fire: bool = True) -> None:
        """Start a flow: its schedules, triggers and webhooks act from now on. Start objects
        without a schedule fire once, now (unless ``fire`` is False: a start by hand)."""
        flow = self.flow(name)
        now = self.clock.now()
        with self.store.db.write() as conn:
            self._set_started(conn, name, True, now)
            for oid in flow.starts:
                trigger = flow.instance(oid).trigger()
                if trigger is None:
                    continue
                due = (
                    self._first_due(trigger, flow, now)
                    if fire or not isinstance(trigger, Once)
                    else None
                )
                conn.execute(
                    TRIGGERS.delete().where(TRIGGERS.c.flow == name, TRIGGERS.c.object == oid)
                )
                conn.execute(
                    TRIGGERS.insert().values(flow=name, object=oid, due_at=due, last_at=None)
                )

    def stop(self, name: str) -> None:
        """Stop a flow; journeys already in it stay where they are until it starts again."""
        self.flow(name)
        with self.store.db.write() as conn:
            self._set_started(conn, name, False, self.clock.now())

    def _set_started(self, conn: Connection, name: str, started: bool, now: datetime) -> None:
        self._started = None
        done = conn.execute(
            update(FLOWS).where(FLOWS.c.flow == name).values(started=started, changed_at=now)
        ).rowcount
        if not done:
            conn.execute(FLOWS.insert().values(flow=name, started=started, changed_at=now))

    def _first_due(self, trigger: Trigger, flow: Flow, now: datetime) -> datetime:
        if isinstance(trigger, CronTrigger):
            return next_fire(trigger.expr, now - timedelta(microseconds=1), flow.timezone)
        return now

    def _next_due(
        self, trigger: Trigger, flow: Flow, due: datetime, now: datetime
    ) -> datetime | None:
        if isinstance(trigger, Once):
            return None
        if isinstance(trigger, CronTrigger):
            return next_fire(trigger.expr, max(due, now), flow.timezone)
        assert isinstance(trigger, Every)
        return now + trigger.interval

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
        now = self.clock.now()
        started = self.started_flows()
        if not started:
            return 0
        with self.store.db.read() as conn:
            due = [
                _Due(flow, oid, time_value(at) or now)  # due_at <= now: never None
                for flow, oid, at in fetch(
                    conn,
                    "SELECT flow, object, due_at FROM triggers WHERE due_at <= ? "
                    f"AND flow IN ({marks(len(started))}) ORDER BY due_at, flow, object",
                    [time_param(conn, now), *started],
                )
            ]
        entered = 0
        for row in due:
            flow = self.flows[row.flow]
            if row.object not in flow.objects:
                continue
            obj = flow.instance(row.object)
            ctx = self.context(flow, row.object)
            trigger = obj.trigger()
            due_next = self._next_due(trigger, flow, row.due_at, now) if trigger else None
            fired = 0
            try:
                with self.store.db.write() as conn, ctx.inside(conn):
                    seen: set[int] = set()
                    # entries come as the object makes them (an import stores its rows in
                    # this transaction), a chunk at a time: memory stays small
                    for part in chunks_of(obj.entries(ctx=ctx), ENTER_CHUNK):
                        fired += len(self._enter(conn, flow, row.object, part, now, seen))
                    fired += self._enter_from(conn, flow, row.object, ctx, now)
                    self._fired(conn, row.flow, row.object, now, due_next)
            except SluisError as exc:
                # nothing of this firing stands; say why where operators look, and go on
                log.warning("start object %s of flow %s failed: %s", row.object, flow.name, exc)
                with self.store.db.write() as conn:
                    self._fired(conn, row.flow, row.object, now, due_next)
                    sql.add_events(
                        conn,
                        [
                            {
                                "kind": "failed",
                                "at": now,
                                "flow": flow.name,
                                "object": row.object,
                                "data": {"reason": f"failed: {exc}"},
                            }
                        ],
                    )
                continue
            entered += fired
            if fired >= BULK_ENTRY:
                self.store.db.analyze("journeys")
            self._after_commit(ctx)
        return entered

    def _fired(
        self, conn: Connection, flow: str, object_id: str, now: datetime, due: datetime | None
    ) -> None:
        execute_many(
            conn,
            "UPDATE triggers SET last_at = ?, due_at = ? WHERE flow = ? AND object = ?",
            [(time_param(conn, now), time_param(conn, due), flow, object_id)],
        )

    def _enter_from(
        self, conn: Connection, flow: Flow, object_id: str, ctx: RunContext, now: datetime
    ) -> int:
        """Run the context's entering writes (see ``RunContext.enter``)."""
        count = 0
        for change in ctx.entering:
            seen: set[int] = set()

            def enter(entries: Sequence[Entry], seen: set[int] = seen) -> None:
                nonlocal count
                count += len(self._enter(conn, flow, object_id, entries, now, seen))

            change(conn, enter)
        return count

    def _after_commit(self, ctx: RunContext) -> None:
        for action in ctx.committed:
            try:
                action()
            except SluisError as exc:
                log.warning("after %s of flow %s committed: %s", ctx.object_id, ctx.flow.name, exc)

    def enter(self, flow_name: str, object_id: str, entries: Sequence[Entry]) -> list[int]:
        """Customers enter ``flow_name`` at ``object_id`` now (webhooks, starts by hand, replay
        entries); returns the ids of the journeys made (reentry rules may refuse some)."""
        flow = self.flow(flow_name)
        with self.store.db.write() as conn:
            return self.enter_in(conn, flow, object_id, entries)

    def enter_in(
        self, conn: Connection, flow: Flow, object_id: str, entries: Sequence[Entry]
    ) -> list[int]:
        """``enter`` inside the caller's transaction (the webhook stores and enters at once)."""
        return self._enter(conn, flow, object_id, entries, self.clock.now())

    def _enter(
        self,
        conn: Connection,
        flow: Flow,
        object_id: str,
        entries: Sequence[Entry],
        now: datetime,
        seen: set[int] | None = None,
    ) -> list[int]:
        if not entries:
            return []
        spec = flow.objects[object_id]
        blocked = sql.reentry_blocked(
            conn, flow.name, flow.reentry, [e.customer_id for e in entries]
        )
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
        return sql.enter(conn, flow.name, object_id, new, now)

    # -- events ----------------------------------------------------------------------------

    def record_events(self, events: Sequence[IncomingEvent]) -> None:
        """Store events, wake the journeys waiting for them, and let ``event`` start objects
        of started flows take the customers in."""
        if not events:
            return
        started = set(self.started_flows())
        with self.store.db.write() as conn:
            sql.add_events(
                conn,
                (
                    {
                        "kind": e.kind,
                        "at": e.at,
                        "customer_id": e.customer_id,
                        "flow": e.flow,
                        "object": e.object,
                        "data": dict(e.data or {}),
                    }
                    for e in events
                ),
            )
            for e in events:
                sql.wake(conn, e.customer_id, e.kind, e.at)
            for name in sorted(started):
                flow = self.flows[name]
                for oid in flow.starts:
                    obj = flow.instance(oid)
                    entries = [e.entry() for e in events if obj.accepts(event=e)]
                    self._enter(conn, flow, oid, entries, self.clock.now())

    # -- batches ---------------------------------------------------------------------------

    def run_batch(self) -> BatchReport | None:
        """Claim one ready batch, run its object on it and commit the routing; None when
        nothing is ready."""
        now = self.clock.now()
        started = self.started_flows()
        with self.store.db.write() as conn:
            claimed = sql.claim(
                conn,
                owner=self.owner,
                flows=started,
                claims_all=self._claims_all,
                now=now,
                lease=self.lease,
                size=self.batch_size,
            )
        if claimed is None:
            return None
        try:
            with _Heartbeat(self, claimed.claim_id):
                return self._run_claimed(claimed, now)
        except BaseException:
            # hand the batch back at once rather than when its lease runs out
            with contextlib.suppress(Exception), self.store.db.write() as conn:
                sql.release_claim(conn, claimed.claim_id)
            raise

    def _run_claimed(self, claimed: sql.ClaimedBatch, now: datetime) -> BatchReport:
        if not claimed.ids:
            report = self._run_rows(claimed, claimed.rows, now, last=True)
            return report or BatchReport(claimed.flow, claimed.object, 0, {}, now)
        # everything waiting at a bucket, or a claim taken over: a slice at a time, each
        # committed on its own (the claim ends with the last), so memory stays small and a
        # crash halfway leaves only the rest to do
        ids = claimed.ids
        flow = self.flows[claimed.flow]
        size = flow.instance(claimed.object).claim_slice() or len(ids)
        first: BatchReport | None = None
        for start in range(0, len(ids), size):
            with self.store.db.read() as conn:
                rows = sql.claimed_rows(conn, ids[start : start + size])
            report = self._run_rows(claimed, rows, now, last=start + size >= len(ids))
            if report is None:
                break
            first = first or report
        return first or BatchReport(claimed.flow, claimed.object, 0, {}, now)

    def _run_rows(
        self, claimed: sql.ClaimedBatch, rows: list[sql.ClaimedRow], now: datetime, *, last: bool
    ) -> BatchReport | None:
        """Run the claimed object on (a slice of) its journeys and commit; None when the
        lease was lost to another worker."""
        flow = self.flows[claimed.flow]
        customers: dict[int, dict[str, Any]] = {}
        if flow.objects[claimed.object].kind.reads_customers:
            with self.store.db.read() as conn:
                customers = load_customers(conn, {r.customer_id for r in rows}, self.store.project)
        journeys = [
            Journey(
                id=r.id,
                customer=customers.get(r.customer_id) or {"system_id": r.customer_id},
                data=dict(r.data or {}),
                entered_at=r.entered_at,
                arrived_at=r.arrived_at,
                via=r.via,
            )
            for r in rows
        ]
        ctx = self.context(flow, claimed.object)
        routing = self._decide(flow, claimed.claim_id, claimed.object, journeys, ctx)
        releases = {r.id: r.release_id for r in rows}
        return self._commit(flow, claimed, journeys, releases, routing, ctx, now, last=last)

    def _decide(
        self, flow: Flow, claim_id: int, object_id: str, journeys: list[Journey], ctx: RunContext
    ) -> Routing:
        """Run an object on a batch. When it fails, every journey of the batch fails with its
        message and none of the work it queued stands."""
        batch = Batch(flow.name, object_id, f"{flow.name}.{object_id}.{claim_id}", journeys)
        routing = Routing(flow.objects[object_id].outputs, object_id)
        try:
            flow.instance(object_id).run(batch=batch, routing=routing, ctx=ctx)
        except SluisError as exc:
            log.warning("object %s of flow %s failed: %s", object_id, flow.name, exc)
            ctx.writes.clear()
            ctx.entering.clear()
            ctx.committed.clear()
            return _failing(journeys, exc)
        return routing

    def _commit(
        self,
        flow: Flow,
        claimed: sql.ClaimedBatch,
        journeys: list[Journey],
        releases: dict[int, int | None],
        routing: Routing,
        ctx: RunContext,
        now: datetime,
        *,
        last: bool,
    ) -> BatchReport | None:
        """Commit the claimed object's decisions and the passage of its journeys through the
        instant objects after it, in one transaction; the claim ends with its ``last``
        slice."""
        failed: SluisError | None = None
        passage = Passage(flow, claimed.claim_id, now, dict(releases), ends_claim=last)
        contexts = [ctx]
        with self.store.db.write() as conn:
            if not sql.still_ours(conn, claimed.claim_id, self.owner):
                log.warning("lost the lease on batch %s; another worker runs it", claimed.claim_id)
                return None
            try:
                with conn.begin_nested():
                    for change in ctx.writes:
                        change(conn)
                    loaded = 0 if flow.objects[claimed.object].kind.reads_customers else None
                    passage.writes = 1 if ctx.writes else 0
                    passage.route(claimed.object, journeys, routing, loaded)
                    contexts += self._pass_on(conn, flow, passage)
                    passage.apply(conn)
                    for done in contexts:
                        self._enter_from(conn, flow, done.object_id, done, now)
            except SluisError as exc:
                failed = exc
        if failed is not None:
            # a queued change failed: none of the object's work stands, every journey fails
            log.warning("object %s of flow %s failed: %s", claimed.object, flow.name, failed)
            return self._commit(
                flow,
                claimed,
                journeys,
                releases,
                _failing(journeys, failed),
                self.context(flow, claimed.object),
                now,
                last=last,
            )
        for done in contexts:
            self._after_commit(done)
        for report in passage.reports:
            for listener in self.on_batch:
                listener(report)
        return passage.reports[0]

    def _pass_on(self, conn: Connection, flow: Flow, passage: Passage) -> list[RunContext]:
        """Decide the journeys that reached instant objects, there and then, until none
        goes on; their writes run at once (in the passage's transaction) so the next object
        sees them. Returns the contexts of the objects that ran."""
        contexts = []
        while passage.onward:
            stage = passage.onward.popleft()
            journeys, loaded = stage.journeys, stage.loaded
            if flow.objects[stage.object_id].kind.reads_customers and loaded != passage.writes:
                customers = load_customers(
                    conn, {j.customer_id for j in journeys}, self.store.project
                )
                for journey in journeys:
                    journey.customer = customers.get(journey.customer_id) or journey.customer
                loaded = passage.writes
            ctx = self.context(flow, stage.object_id)
            routing = self._decide(flow, passage.claim_id, stage.object_id, journeys, ctx)
            try:
                with conn.begin_nested():
                    for change in ctx.writes:
                        change(conn)
            except SluisError as exc:
                log.warning("object %s of flow %s failed: %s", stage.object_id, flow.name, exc)
                routing = _failing(journeys, exc)
                ctx.committed.clear()
            else:
                passage.writes += bool(ctx.writes)
            passage.route(stage.object_id, journeys, routing, loaded)
            contexts.append(ctx)
        return contexts

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
            ready = sql.next_ready(conn, started)
            triggers = [
                time_value(at)
                for (at,) in fetch(
                    conn,
                    "SELECT due_at FROM triggers WHERE due_at IS NOT NULL "
                    f"AND flow IN ({marks(len(started))})",
                    started,
                )
            ]
        moments = [m for m in (ready, *triggers) if m is not None]
        return min(moments) if moments else None


class _Due(NamedTuple):
    flow: str
    object: str
    due_at: datetime


def _failing(journeys: Sequence[Journey], exc: SluisError) -> Routing:
    """Every journey fails with the error's message."""
    routing = Routing()
    for journey in journeys:
        routing.fail(journey, f"failed: {exc}")
    return routing


class _Heartbeat:
    """Keeps a claimed batch's lease alive while its object runs (long HTTP calls, big
    exports). A no-op on virtual clocks, where nothing runs long in real time."""

    def __init__(self, runtime: Runtime, claim_id: int) -> None:
        self.runtime = runtime
        self.claim_id = claim_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeat:
        if self.runtime.effects.replay or (
            self.runtime.store.db.url.startswith("sqlite://")
            and (self.runtime.store.db.url in ("sqlite://", "sqlite:///:memory:"))
        ):
            return self
        self._thread = threading.Thread(target=self._beat, daemon=True, name="sluis-heartbeat")
        self._thread.start()
        return self

    def _beat(self) -> None:
        interval = max(1.0, self.runtime.lease.total_seconds() / 3)
        while not self._stop.wait(interval):
            try:
                with self.runtime.store.db.write() as conn:
                    until = self.runtime.clock.now() + self.runtime.lease
                    if not sql.extend_lease(conn, self.claim_id, self.runtime.owner, until):
                        return
            except Exception:  # a missed beat only shortens the lease; the batch goes on
                log.exception("heartbeat for batch %s failed", self.claim_id)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
