"""A bucket (an object that claims everything waiting) is decided by one worker at a time:
two workers on PostgreSQL, each on its own connection, while customers keep arriving."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.runner import Runtime
from engine.sdk.batch import Entry
from engine.store import Store
from engine.store import journeys as sql
from engine.store.customers import upsert_customers
from engine.store.models import STEPS
from objects.bucket import Bucket

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FLOW = """
objects:
  hook: {type: webhook, endpoint: hook, next: gather}
  gather: {type: bucket, size: 10, every: 1h, next: done}
  done: {type: end}
"""


def _setup(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store], n: int
) -> tuple[Store, Project, VirtualClock, list[int]]:
    project = make_project("timezone: UTC\n", {"f": FLOW})
    store, clock = store_for(project), VirtualClock(START)
    rows = [{"external_id": f"C{i}", "email": f"c{i}@example.com"} for i in range(n)]
    with store.db.write() as conn:
        ids = [
            sid
            for sid, _ in upsert_customers(
                conn, rows, key="external_id", project=project, now=START
            )
        ]
    return store, project, clock, ids


def test_a_second_worker_leaves_a_bucket_being_decided_alone(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    store, project, clock, ids = _setup(make_project, store_for, 8)
    flows = [find_flow(project, "f")]
    first = Runtime(store, flows, clock, owner="w1")
    first.start("f")
    first.enter("f", "hook", [Entry(i) for i in ids[:5]])
    with store.db.write() as conn:  # w1 claims the bucket and is still deciding it
        claimed = sql.claim(
            conn,
            owner="w1",
            flows=["f"],
            claims_all=first.claims_all,
            now=clock.now(),
            lease=first.lease,
            size=100,
        )
    assert claimed is not None and len(claimed.ids) == 5
    first.enter("f", "hook", [Entry(i) for i in ids[5:]])  # three more arrive meanwhile
    second = Runtime(store, flows, clock, owner="w2")
    assert second.run_batch() is None  # not a part of the bucket for w2
    from engine.runtime import batches

    batches.run_claimed(first, claimed, clock.now())
    report = second.run_batch()
    assert report is not None and report.object == "gather" and report.size == 8  # all, at once


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_workers_never_decide_one_bucket_at_once(
    make_project: Callable[..., Project],
    store_for: Callable[[Project], Store],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, project, clock, ids = _setup(make_project, store_for, 200)
    flows = [find_flow(project, "f")]
    Runtime(store, flows, clock, owner="setup").start("f")
    deciding, most, lock = [0], [0], threading.Lock()
    real_run = Bucket.run

    def watched(self: Bucket, **kw: Any) -> None:
        with lock:
            deciding[0] += 1
            most[0] = max(most[0], deciding[0])
        try:
            time.sleep(0.05)
            real_run(self, **kw)
        finally:
            with lock:
                deciding[0] -= 1

    monkeypatch.setattr(Bucket, "run", watched)
    arriving = threading.Event()

    def arrive() -> None:
        door = Runtime(store, flows, clock, owner="door")
        for start in range(0, len(ids), 20):
            door.enter("f", "hook", [Entry(i) for i in ids[start : start + 20]])
            time.sleep(0.03)
        arriving.set()

    def work(owner: str) -> None:
        runtime = Runtime(store, flows, clock, owner=owner)  # its own connections
        while True:
            if runtime.run_batch() is None and arriving.is_set() and runtime.run_batch() is None:
                return

    threads = [threading.Thread(target=arrive)] + [
        threading.Thread(target=work, args=(f"w{i}",)) for i in (1, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert most[0] == 1
    steps = STEPS
    with store.db.read() as conn:
        released = conn.execute(
            select(func.count()).select_from(steps).where(steps.c.object == "gather")
        ).scalar_one()
    assert released == 200  # every release was a whole group of 10
