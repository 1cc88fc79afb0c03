"""The numbers an operator watches: workers alive, batches claimed and their leases, journeys
ready and how long the oldest has waited (``sluis status``, the TUI header)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from engine.runtime.worker import alive_since
from engine.store import Store
from engine.store.models import CLAIMS, JOURNEYS, WORKERS

J = JOURNEYS


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    alive: bool


@dataclass(frozen=True)
class Status:
    now: datetime
    workers: list[WorkerInfo]
    claimed: int  # batches held now
    lapsed: int  # of those, leases that ran out (their worker died)
    claimed_journeys: int | None  # None: not counted (see status_of)
    ready: int  # journeys whose time has come, not yet claimed
    oldest_ready: datetime | None
    oldest_ready_at: str | None  # "flow/object" of the oldest ready journey

    @property
    def lag(self) -> timedelta | None:
        """How long the oldest ready journey has waited for a worker."""
        return self.now - self.oldest_ready if self.oldest_ready else None

    @property
    def alive(self) -> int:
        return sum(1 for w in self.workers if w.alive)


def read_status(store: Store, now: datetime) -> Status:
    with store.db.read() as conn:
        return status_of(conn, now)


def status_of(conn: Connection, now: datetime, *, count_claimed: bool = True) -> Status:
    """The numbers as of ``now``. ``count_claimed`` counts the journeys in claimed batches,
    a scan of every journey (``sluis status`` shows it; the TUI's header, read every second,
    does not)."""
    workers = [
        WorkerInfo(
            r.id,
            r.host,
            r.pid,
            r.started_at,
            r.heartbeat_at,
            r.heartbeat_at >= alive_since(now),
        )
        for r in conn.execute(select(WORKERS).order_by(WORKERS.c.started_at))
    ]
    claimed = conn.execute(select(func.count()).select_from(CLAIMS)).scalar_one()
    lapsed = conn.execute(
        select(func.count()).select_from(CLAIMS).where(CLAIMS.c.lease_until < now)
    ).scalar_one()
    claimed_journeys = None
    if count_claimed:
        claimed_journeys = conn.execute(
            select(func.count()).select_from(J).where(J.c.claim_id.is_not(None))
        ).scalar_one()
    ready_filter = (J.c.state == "active", J.c.ready_at <= now, J.c.claim_id.is_(None))
    ready = conn.execute(select(func.count()).select_from(J).where(*ready_filter)).scalar_one()
    oldest = conn.execute(
        select(J.c.ready_at, J.c.flow, J.c.object)
        .where(*ready_filter)
        .order_by(J.c.ready_at)
        .limit(1)
    ).first()
    return Status(
        now=now,
        workers=workers,
        claimed=claimed,
        lapsed=lapsed,
        claimed_journeys=claimed_journeys,
        ready=ready,
        oldest_ready=oldest.ready_at if oldest else None,
        oldest_ready_at=f"{oldest.flow}/{oldest.object}" if oldest else None,
    )
