"""The ``rate_limit`` of ``http-request`` holds across workers: the token bucket in the
database on SQLite and PostgreSQL, and worker processes sending to one real HTTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import yaml
from http_target import ALLOW_PRIVATE, START, Campaign, customers
from sqlalchemy import select, text

from engine.http.rates import chunk_size
from engine.model.flow import load_flow
from engine.runtime.clock import SystemClock
from engine.runtime.runner import Runtime
from engine.store import Database, Store
from engine.store.customers import upsert_customers
from engine.store.limits import BUCKETS, take

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ONLY = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def notify_flow(url: str, rate: float, **settings: object) -> str:
    notify = {"type": "http-request", "url": url, "rate_limit": rate, **settings}
    objects = {"everyone": {"type": "selection", "next": "notify"}, "notify": notify}
    return yaml.safe_dump({"objects": objects}, sort_keys=False)


def test_a_bucket_refills_from_its_stored_time_up_to_its_capacity(db_url):
    db = Database(db_url)
    got = [
        take(db, "f", "o", rate=10, capacity=5, wanted=3, now=now)
        for now in (100.0, 100.0, 100.0, 100.15, 100.1, 200.0)
    ]
    db.dispose()
    assert [granted for granted, _ in got] == [3, 2, 0, 1, 0, 3]
    # an empty bucket says when it holds what was asked for again (3 tokens, 0.3 s at 10/s)
    assert got[2][1] == pytest.approx(100.3)
    # a clock behind the stored time (100.1 after 100.15) refills nothing
    assert got[4][1] == pytest.approx(100.4)


def test_a_stored_time_far_ahead_is_replaced_by_the_takers_clock(db_url):
    db = Database(db_url)
    taken = [
        take(db, "f", "o", rate=10, capacity=5, wanted=5, now=now) for now in (100.0, 97.0, 40.0)
    ]
    last = take(db, "f", "o", rate=10, capacity=5, wanted=5, now=40.5)
    db.dispose()
    # 3 s behind: within SKEW, nothing refills and the wait is measured from the stored time
    assert taken[1] == (0, pytest.approx(100.5))
    # 60 s behind: the stored time is replaced, so this worker waits 0.5 s, not a minute
    assert taken[2] == (0, pytest.approx(40.5))
    assert last[0] == 5


def test_takers_at_once_never_get_more_than_the_bucket_holds(db_url):
    granted: list[int] = []
    lock = threading.Lock()

    def taker() -> None:
        db = Database(db_url)  # a connection of its own, as another worker has
        try:
            for _ in range(5):
                got, _ = take(db, "f", "crowded", rate=1, capacity=12, wanted=3, now=50.0)
                with lock:
                    granted.append(got)
        finally:
            db.dispose()

    schema = Database(db_url)
    schema.create_schema()
    schema.dispose()
    threads = [threading.Thread(target=taker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 12  # the full bucket, handed out once, whatever the interleaving
    assert len(granted) == 30


def test_a_rate_limited_object_waits_on_the_virtual_clock(target, make_project, store_for):
    project = make_project(ALLOW_PRIVATE, flows={"notify": notify_flow(target.url("/slow"), 4.0)})
    store = store_for(project)
    run = Campaign(project, store, "notify", customers(9))
    run.run()
    run.close()
    assert len(target.to("/slow")) == 9
    # a chunk of one token at once, then one call per 1/4 s: 8 more take 2 s of the clock
    waited = (run.clock.now() - START).total_seconds()
    assert waited == pytest.approx(2.0, abs=0.01)
    with store.db.read() as conn:
        [bucket] = conn.execute(select(BUCKETS)).all()
    assert (bucket.flow, bucket.object) == ("notify", "notify")
    assert bucket.at == pytest.approx(START.timestamp() + 2.0, abs=0.01)


WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from engine.model.flow import load_flows
    from engine.runtime.production import production_effects
    from engine.model.project import Project
    from engine.store import Store
    from engine.runtime.worker import Worker

    project = Project.load(Path(sys.argv[1]))
    flows, _ = load_flows(project)
    worker = Worker(Store.open(project), flows, effects=production_effects(project),
                    idle=0.05, batch_size=int(sys.argv[2]))
    print("ready", flush=True)
    sys.stdin.readline()  # all workers start together
    print(worker.run(once=True), flush=True)
    """
)


@POSTGRES_ONLY
def test_workers_together_keep_to_the_rate_limit(target, make_project, db_url):
    """Three worker processes on one PostgreSQL, each able to send 50 calls a second on its
    own, send 300 calls at ``rate_limit: 50`` together. Measured over the count of calls (not
    tight windows): the calls after the first need at least (count - 1 - 2 chunks) / rate
    seconds, so 300 calls take about 5.5 s or more; with per-process limits they would take
    about 2 s."""
    rate, count, workers = 50.0, 300, 3
    flow = notify_flow(target.url("/limited"), rate, concurrency=4, retries=0)
    project = make_project(ALLOW_PRIVATE, flows={"notify": flow})
    store = Store(Database(db_url), project)
    with store.db.write() as conn:
        upsert_customers(conn, customers(count), key="external_id", project=project, now=START)
    runtime = Runtime(store, [load_flow(project.flows_dir / "notify.yaml", project)], SystemClock())
    runtime.start("notify")
    runtime.fire_due()  # the selection: every customer now waits at notify
    store.db.dispose()

    env = {**os.environ, "SLUIS_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(project.root), "50"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        batches = [int(proc.communicate(timeout=120)[0].strip()) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    arrivals = sorted(r.at for r in target.to("/limited"))
    assert len(arrivals) == count
    assert all(ran > 0 for ran in batches), batches  # every worker sent some of the calls
    span = arrivals[-1] - arrivals[0]
    least = (count - 1 - 2 * chunk_size(rate)) / rate
    assert span >= least * 0.95, f"{count} calls in {span:.2f} s: {(count - 1) / span:.1f}/s"
    db = Database(db_url)
    with db.engine.connect() as conn:  # statements on the bucket: chunks, not one per call
        updates = conn.execute(
            text("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'rate_buckets'")
        ).scalar()
    db.dispose()
    print(
        f"{count} calls by {workers} workers ({batches} batches) in {span:.2f} s: "
        f"{(count - 1) / span:.1f}/s at rate_limit {rate:g}; bucket updates: {updates}"
    )
    # one statement per call would be 300 or more; chunks measured 0.2 to 0.4 a call
    assert updates is not None and updates < 0.6 * count
