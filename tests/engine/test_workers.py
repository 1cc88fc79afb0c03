"""Many workers on one database: no batch is claimed twice, a dead worker's batch is rescued,
SIGTERM finishes the batch in hand, and SQLite shared by two processes never shows a user
'database is locked'."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import SystemClock
from engine.runtime.runner import Runtime
from engine.runtime.worker import SchedulerLock
from engine.sdk.batch import Entry
from engine.store import Store
from engine.store.customers import upsert_customers
from engine.store.models import CLAIMS, JOURNEYS, STEPS

SCALE = float(os.environ.get("SLUIS_FAULT_SCALE", "0.01"))
FLOW = """
objects:
  hook: {type: webhook, endpoint: hook, next: tag}
  tag: {type: group, add: [seen], next: done}
  done: {type: end}
"""
WORKER = textwrap.dedent(
    """
    import sys
    from engine.runtime.clock import SystemClock
    from engine.model.flow import load_flows
    from engine.model.project import Project
    from engine.store import Database, Store
    from engine.runtime.worker import Worker
    from pathlib import Path

    project = Project.load(Path(sys.argv[1]))
    flows, _ = load_flows(project)
    store = Store(Database(sys.argv[2]), project)
    worker = Worker(
        store, flows, clock=SystemClock(), concurrency=int(sys.argv[3]), idle=0.2,
        batch_size=int(sys.argv[4]),
    )
    worker.install_signals()
    print("ready", flush=True)
    worker.run(once=sys.argv[5] == "once")
    """
)


def prepare(make_project: Callable[..., Project], db_url: str, count: int) -> tuple[Project, Store]:
    project = make_project("timezone: UTC\n", {"f": FLOW})
    from engine.store import Database

    store = Store(Database(db_url), project)
    now = datetime.now(UTC)
    runtime = Runtime(store, [find_flow(project, "f")], SystemClock())
    with store.db.write() as conn:
        rows = [{"external_id": f"C{i}"} for i in range(count)]
        ids = [
            s for s, _ in upsert_customers(conn, rows, key="external_id", project=project, now=now)
        ]
    runtime.start("f")
    runtime.enter("f", "hook", [Entry(i) for i in ids])
    return project, store


def spawn(
    project: Project, db_url: str, concurrency: int, size: int, mode: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WORKER,
            str(project.root),
            db_url,
            str(concurrency),
            str(size),
            mode,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def counts(store: Store) -> tuple[int, int, int]:
    s, j, c = STEPS, JOURNEYS, CLAIMS
    with store.db.read() as conn:
        per_journey = conn.execute(
            select(func.count()).select_from(
                select(s.c.journey_id)
                .where(s.c.object == "tag")
                .group_by(s.c.journey_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        finished = conn.execute(
            select(func.count()).select_from(j).where(j.c.state == "finished")
        ).scalar_one()
        claims = conn.execute(select(func.count()).select_from(c)).scalar_one()
    return per_journey, finished, claims


@pytest.mark.postgres
def test_four_workers_never_claim_a_batch_twice(
    make_project: Callable[..., Project], clean_postgres_url: str
) -> None:
    postgres_url = clean_postgres_url
    count = max(400, int(100_000 * SCALE))
    project, store = prepare(make_project, postgres_url, count)
    workers = [spawn(project, postgres_url, 1, 1, "once") for _ in range(4)]
    outputs = [w.communicate(timeout=900) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert "Traceback" not in err, err
    doubles, finished, claims = counts(store)
    assert (doubles, finished, claims) == (0, count, 0)
    store.db.dispose()


def test_sqlite_shared_by_two_processes_shows_no_locked_errors(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    count = 1500
    project, store = prepare(make_project, url, count)
    workers = [spawn(project, url, 2, 50, "once") for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert "locked" not in err.lower()
    assert counts(store) == (0, count, 0)


def test_sigterm_finishes_the_batch_in_hand(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'term.db'}"
    project, store = prepare(make_project, url, 3000)
    worker = spawn(project, url, 1, 100, "forever")
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    doubles, _, claims = counts(store)
    assert (doubles, claims) == (0, 0)  # nothing half-done is left claimed


def test_one_scheduler_at_a_time_and_takeover(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    project = make_project("timezone: UTC\n", {"f": FLOW})
    store = store_for(project)
    clock = SystemClock()
    first, second = SchedulerLock(store, "a", clock), SchedulerLock(store, "b", clock)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
