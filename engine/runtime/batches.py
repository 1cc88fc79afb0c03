"""Claim, run, commit: a worker claims a ready batch under a lease (kept alive by a
heartbeat while the object runs), runs its object on the whole batch outside any write
transaction, and commits the routing with the passage through the instant objects after it
in one transaction (see ``engine.runtime.passage``)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from engine.errors import DatabaseError, SluisError, TransientError
from engine.model.flow import Flow
from engine.model.retries import RetrySettings
from engine.runtime import setbased, setpassage
from engine.runtime.entering import after_commit, enter_from
from engine.runtime.failing import (
    MAX_ATTEMPTS,
    fail_claimed,
    failed_run,
    gave_up,
    missing_object,
    retrying,
)
from engine.runtime.passage import BatchReport, Passage
from engine.sdk.batch import Batch, Journey, Routing
from engine.sdk.context import RunContext
from engine.store import journeys as sql
from engine.store.customers import load_customers

if TYPE_CHECKING:
    from engine.runtime.runner import Runtime

log = logging.getLogger("sluis.runtime")


def run_batch(runtime: Runtime, *, in_place: bool = True) -> BatchReport | None:
    """Claim one ready batch, run its object on it and commit the routing; None when
    nothing is ready. A batch that passes wholly in the database passes in the transaction
    that takes it (``in_place``), with no claim of its own."""
    now = runtime.clock.now()
    started = runtime.started_flows()
    try:
        with runtime.store.db.write() as conn:
            claimed = sql.claim(
                conn,
                owner=runtime.owner,
                flows=started,
                claims_all=runtime.claims_all,
                now=now,
                lease=runtime.lease,
                size=runtime.batch_size,
                in_place=_passes_in_database(runtime) if in_place else None,
                in_place_size=runtime.passage_size,
            )
            if isinstance(claimed, sql.TakenBatch):
                flow = runtime.flow_at(claimed.flow, claimed.version)
                ids = list(claimed.ids)
                reports = setpassage.pass_batch(conn, runtime, flow, claimed.object, ids, now)
    except DatabaseError:  # not the batch's failure: the worker tries again
        raise
    except Exception:  # nothing of it stands; claimed, its failures are counted
        log.exception("a batch passing in the database failed; claiming it instead")
        return run_batch(runtime, in_place=False)
    if isinstance(claimed, sql.TakenBatch):
        return _reported(runtime, reports)
    if claimed is None:
        return None
    cannot = missing_object(runtime, claimed)
    if cannot is None and claimed.attempts > MAX_ATTEMPTS:
        cannot = gave_up(claimed)
    if cannot is not None:
        log.warning("batch %s of flow %s: %s", claimed.claim_id, claimed.flow, cannot)
        return fail_claimed(runtime, claimed, cannot, now)
    try:
        with _Heartbeat(runtime, claimed.claim_id):
            return run_claimed(runtime, claimed, now)
    except DatabaseError:
        _hand_back(runtime, claimed)  # not the object's failure: the batch runs again
        raise
    except Exception as exc:  # the object's bug: at most MAX_ATTEMPTS runs, then it fails
        return failed_run(runtime, claimed, exc, now)
    except BaseException:
        _hand_back(runtime, claimed)
        raise


def _passes_in_database(runtime: Runtime) -> Callable[[str, str, int], bool]:
    def passes(flow: str, object_id: str, version: int) -> bool:
        found = runtime.flow_at(flow, version)
        return setbased.passes_in_database(found, object_id, runtime.store.project)

    return passes


def _hand_back(runtime: Runtime, claimed: sql.ClaimedBatch) -> None:
    """Hand the batch back at once rather than when its lease runs out."""
    with contextlib.suppress(Exception), runtime.store.db.write() as conn:
        sql.release_claim(conn, claimed.claim_id)


def run_claimed(runtime: Runtime, claimed: sql.ClaimedBatch, now: datetime) -> BatchReport:
    """Run and commit a claimed batch (a report of no journeys when the lease was lost)."""
    if not claimed.ids:
        report = _run_rows(runtime, claimed, claimed.rows, now, last=True)
        return report or BatchReport(claimed.flow, claimed.object, 0, {}, now)
    # everything waiting at a bucket, or a claim taken over: a slice at a time, each
    # committed on its own (the claim ends with the last), so memory stays small and a
    # crash halfway leaves only the rest to do
    ids = claimed.ids
    flow = runtime.flow_at(claimed.flow, claimed.version)
    size = flow.instance(claimed.object).claim_slice() or len(ids)
    first: BatchReport | None = None
    for start in range(0, len(ids), size):
        with runtime.store.db.read() as conn:
            rows = sql.claimed_rows(conn, ids[start : start + size])
        report = _run_rows(runtime, claimed, rows, now, last=start + size >= len(ids))
        if report is None:
            break
        first = first or report
    return first or BatchReport(claimed.flow, claimed.object, 0, {}, now)


def _run_rows(
    runtime: Runtime,
    claimed: sql.ClaimedBatch,
    rows: list[sql.ClaimedRow],
    now: datetime,
    *,
    last: bool,
) -> BatchReport | None:
    """Run the claimed object on (a slice of) its journeys and commit; None when the
    lease was lost to another worker."""
    flow = runtime.flow_at(claimed.flow, claimed.version)
    if setbased.passes_in_database(flow, claimed.object, runtime.store.project):
        return _pass_claimed(runtime, flow, claimed, [r.id for r in rows], now, last=last)
    customers: dict[int, dict[str, Any]] = {}
    if setbased.reads_customers(flow, claimed.object, runtime.store.project):
        with runtime.store.db.read() as conn:
            customers = load_customers(conn, {r.customer_id for r in rows}, runtime.store.project)
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
    ctx = setbased.deciding(runtime.context(flow, claimed.object))
    routing = _decide(flow, claimed.claim_id, claimed.object, journeys, ctx)
    releases = {r.id: r.release_id for r in rows}
    return _commit(runtime, flow, claimed, journeys, releases, routing, ctx, now, last=last)


def _pass_claimed(
    runtime: Runtime,
    flow: Flow,
    claimed: sql.ClaimedBatch,
    ids: list[int],
    now: datetime,
    *,
    last: bool,
) -> BatchReport | None:
    """Pass claimed journeys wholly in the database (see ``engine.runtime.setpassage``) and
    commit; None when the lease was lost to another worker."""
    with runtime.store.db.write() as conn:
        if not sql.still_ours(conn, claimed.claim_id, runtime.owner):
            log.warning("lost the lease on batch %s; another worker runs it", claimed.claim_id)
            return None
        reports = setpassage.pass_batch(conn, runtime, flow, claimed.object, ids, now)
        if last:
            sql.end_claim(conn, claimed.claim_id)
    return _reported(runtime, reports)


def _reported(runtime: Runtime, reports: list[BatchReport]) -> BatchReport:
    """Tell the runtime's listeners what each object did; the first object's report."""
    for report in reports:
        for listener in runtime.on_batch:
            listener(report)
    return reports[0]


def _decide(
    flow: Flow, claim_id: int, object_id: str, journeys: list[Journey], ctx: RunContext
) -> Routing:
    """Run an object on a batch. When it fails, every journey of the batch fails with its
    message and none of the work it queued stands."""
    batch = Batch(flow.name, object_id, f"{flow.name}.{object_id}.{claim_id}", journeys)
    routing = Routing(flow.objects[object_id].outputs, object_id)
    ctx.batch_customers = [journey.customer_id for journey in journeys]
    try:
        flow.instance(object_id).run(batch=batch, routing=routing, ctx=ctx)
    except DatabaseError:  # not the object's failure: the worker tries the batch again
        raise
    except SluisError as exc:
        log.warning("object %s of flow %s failed: %s", object_id, flow.name, exc)
        ctx.writes.clear()
        ctx.entering.clear()
        ctx.committed.clear()
        return _after_failure(flow, object_id, journeys, exc, ctx.now)
    return routing


def _after_failure(
    flow: Flow, object_id: str, journeys: list[Journey], exc: SluisError, now: datetime
) -> Routing:
    """Where an object's journeys go when its work failed: held for another try after a
    transient failure (its ``retries`` / ``backoff``), failed otherwise."""
    settings = flow.instance(object_id).settings
    if isinstance(exc, TransientError) and isinstance(settings, RetrySettings):
        return retrying(journeys, object_id, exc, settings, now)
    return _failing(journeys, exc)


def _commit(
    runtime: Runtime,
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
    with runtime.store.db.write() as conn:
        if not sql.still_ours(conn, claimed.claim_id, runtime.owner):
            log.warning("lost the lease on batch %s; another worker runs it", claimed.claim_id)
            return None
        try:
            with conn.begin_nested():
                for change in ctx.writes:
                    change(conn)
                reads = setbased.reads_customers(flow, claimed.object, runtime.store.project)
                loaded = 0 if reads else None
                passage.writes = 1 if ctx.writes else 0
                passage.route(claimed.object, journeys, routing, loaded)
                contexts += _pass_on(runtime, conn, flow, passage)
                passage.apply(conn)
                for done in contexts:
                    enter_from(conn, flow, done.object_id, done, now)
        except DatabaseError:  # not the object's failure: the worker tries the batch again
            raise
        except SluisError as exc:
            failed = exc
    if failed is not None:
        # a queued change failed (an import pulling in the commit): none of the object's work
        # stands; every journey is held for another try or fails, as when the object failed
        log.warning("object %s of flow %s failed: %s", claimed.object, flow.name, failed)
        return _commit(
            runtime,
            flow,
            claimed,
            journeys,
            releases,
            _after_failure(flow, claimed.object, journeys, failed, now),
            runtime.context(flow, claimed.object),
            now,
            last=last,
        )
    for done in contexts:
        after_commit(done)
    return _reported(runtime, passage.reports)


def _pass_on(runtime: Runtime, conn: Connection, flow: Flow, passage: Passage) -> list[RunContext]:
    """Decide the journeys that reached instant objects, there and then, until none
    goes on; their writes run at once (in the passage's transaction) so the next object
    sees them. Returns the contexts of the objects that ran."""
    contexts = []
    while passage.onward:
        stage = passage.onward.popleft()
        journeys, loaded = stage.journeys, stage.loaded
        reads = setbased.reads_customers(flow, stage.object_id, runtime.store.project)
        if reads and loaded != passage.writes:
            customers = load_customers(
                conn, {j.customer_id for j in journeys}, runtime.store.project
            )
            for journey in journeys:
                journey.customer = customers.get(journey.customer_id) or journey.customer
            loaded = passage.writes
        ctx = setbased.deciding(runtime.context(flow, stage.object_id), conn)
        routing = _decide(flow, passage.claim_id, stage.object_id, journeys, ctx)
        try:
            with conn.begin_nested():
                for change in ctx.writes:
                    change(conn)
        except DatabaseError:  # not the object's failure: the worker tries the batch again
            raise
        except SluisError as exc:
            log.warning("object %s of flow %s failed: %s", stage.object_id, flow.name, exc)
            routing = _failing(journeys, exc)
            ctx.committed.clear()
        else:
            passage.writes += bool(ctx.writes)
        passage.route(stage.object_id, journeys, routing, loaded)
        contexts.append(ctx)
    return contexts


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
