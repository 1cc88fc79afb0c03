"""Workers: processes that run batches of a project's flows, alone (``sluis run`` on SQLite)
or many on one PostgreSQL database (``sluis worker``), on any number of machines.

Each worker registers itself with a heartbeat (``sluis status`` lists the living), runs
``concurrency`` loops that claim and run batches, and one worker at a time fires schedules: it
holds the scheduler lock (a PostgreSQL advisory lock, freed by the server when its holder's
connection dies; on SQLite a lease row). SIGTERM lets every loop finish its batch, then the
worker leaves cleanly.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from engine.model.flow import Flow
from engine.runtime.clock import Clock, SystemClock
from engine.runtime.runner import Runtime
from engine.sdk.effects import Effects
from engine.store import Store
from engine.store.models import LOCKS, WORKERS

log = logging.getLogger("sluis.worker")
SCHEDULER = "scheduler"
SCHEDULER_KEY = 0x51_75_15  # the advisory lock's number on PostgreSQL
HEARTBEAT = timedelta(seconds=5)


class SchedulerLock:
    """Who fires schedules. PostgreSQL: a session advisory lock on a connection kept open, so
    the server frees it the moment its holder dies. SQLite: a row with a lease."""

    def __init__(self, store: Store, owner: str, clock: Clock) -> None:
        self.store = store
        self.owner = owner
        self.clock = clock
        self._conn: Connection | None = None
        self.held = False

    def acquire(self) -> bool:
        if self.store.db.dialect == "postgresql":
            if self._conn is None:
                self._conn = self.store.db.engine.connect()
            if not self.held:
                got = self._conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_KEY}
                )
                self.held = bool(got.scalar())
                self._conn.commit()
            return self.held
        now = self.clock.now()
        until = now + 3 * HEARTBEAT
        with self.store.db.write() as conn:
            taken = conn.execute(
                update(LOCKS)
                .where(LOCKS.c.name == SCHEDULER)
                .where((LOCKS.c.owner == self.owner) | (LOCKS.c.until < now))
                .values(owner=self.owner, until=until)
            ).rowcount
            if (
                not taken
                and conn.execute(select(LOCKS.c.name).where(LOCKS.c.name == SCHEDULER)).first()
                is None
            ):
                conn.execute(insert(LOCKS).values(name=SCHEDULER, owner=self.owner, until=until))
                taken = 1
        self.held = bool(taken)
        return self.held

    def release(self) -> None:
        if self._conn is not None:
            if self.held:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEDULER_KEY})
                self._conn.commit()
            self._conn.close()
            self._conn = None
        elif self.held:
            with self.store.db.write() as conn:
                conn.execute(
                    delete(LOCKS).where(LOCKS.c.name == SCHEDULER, LOCKS.c.owner == self.owner)
                )
        self.held = False


class Worker:
    """One worker process: ``concurrency`` batch loops and, when it holds the lock, the
    scheduler."""

    def __init__(
        self,
        store: Store,
        flows: Iterable[Flow],
        *,
        effects: Effects | None = None,
        clock: Clock | None = None,
        concurrency: int = 1,
        idle: float = 1.0,
        batch_size: int | None = None,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.store = store
        self.flows = list(flows)
        self.effects = effects or Effects()
        self.clock = clock or SystemClock()
        self.concurrency = max(1, concurrency)
        self.idle = idle
        self.batch_size = batch_size
        self.lease = lease
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = threading.Event()
        self.batches = 0
        self._lock = threading.Lock()

    def runtime(self, index: int) -> Runtime:
        return Runtime(
            self.store,
            self.flows,
            self.clock,
            self.effects,
            owner=f"{self.id}/{index}",
            batch_size=self.batch_size,
            lease=self.lease,
        )

    def stop(self, *_: Any) -> None:
        """Finish the batches in hand, then leave (SIGTERM, SIGINT)."""
        self.stopping.set()

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _register(self) -> None:
        now = self.clock.now()
        with self.store.db.write() as conn:
            conn.execute(
                insert(WORKERS).values(
                    id=self.id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                    heartbeat_at=now,
                )
            )

    def _beat(self) -> None:
        while not self.stopping.wait(HEARTBEAT.total_seconds()):
            try:
                with self.store.db.write() as conn:
                    conn.execute(
                        update(WORKERS)
                        .where(WORKERS.c.id == self.id)
                        .values(heartbeat_at=self.clock.now())
                    )
            except Exception:  # the next beat tries again; status shows a stale worker meanwhile
                log.exception("worker heartbeat failed")

    def _loop(self, index: int, scheduler: SchedulerLock | None, once: bool) -> None:
        runtime = self.runtime(index)
        while not self.stopping.is_set():
            if scheduler is not None and scheduler.acquire():
                runtime.fire_due()
            try:
                report = runtime.run_batch()
            except Exception:  # the batch went back; a database hiccup must not end the loop
                log.exception("a batch failed; it was handed back and runs again")
                self.stopping.wait(self.idle)
                continue
            if report is not None:
                with self._lock:
                    self.batches += 1
                continue
            if once:
                return
            wait = self.idle
            due = runtime.next_due()
            if due is not None:
                wait = min(wait, max(0.05, (due - self.clock.now()).total_seconds()))
            self.stopping.wait(wait)

    def run(self, *, once: bool = False, on_start: Callable[[], None] | None = None) -> int:
        """Run until stopped (or, with ``once``, until nothing is due now); returns how many
        batches ran."""
        self._register()
        scheduler = SchedulerLock(self.store, self.id, self.clock)
        beat = threading.Thread(target=self._beat, daemon=True, name="sluis-worker-beat")
        beat.start()
        loops = [
            threading.Thread(
                target=self._loop,
                args=(i, scheduler if i == 0 else None, once),
                name=f"sluis-loop-{i}",
            )
            for i in range(self.concurrency)
        ]
        if on_start:
            on_start()
        try:
            for thread in loops:
                thread.start()
            for thread in loops:
                while thread.is_alive():
                    thread.join(timeout=0.5)
        finally:
            self.stopping.set()
            scheduler.release()
            with self.store.db.write() as conn:
                conn.execute(delete(WORKERS).where(WORKERS.c.id == self.id))
        return self.batches


def alive_since(now: datetime) -> datetime:
    """Workers whose heartbeat is newer than this are alive."""
    return now - 3 * HEARTBEAT
