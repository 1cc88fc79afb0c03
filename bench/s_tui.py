"""TUI: one counts refresh of the live monitor against SQLite with 1,000,000 journeys.

The welcome flow of the example project gets ``1,000,000 * scale`` journeys (40% waiting at
'opened', 50% finished after the reminder, 10% failed at the mail) with their 2.9 steps each
and one event each, written with INSERT ... SELECT. Figures:

- ``refresh``: the refresh the TUI does every second (``Monitor.refresh`` right after a worker
  wrote a batch of 1,000 steps, so SQLite's page cache starts cold): waiting and failed per
  object, passed per output;
- ``screen``: everything one refresh reads (``Reader.snapshot``: counts of every flow, recent
  events, the selected object's events and its first page of waiting customers);
- ``first refresh``: the first one, which counts every step once.

Each figure is the median of five runs. The baseline is the plain way: GROUP BY over all
steps and all journeys of the flow.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.harness import Result, scenario, timer
from engine.model.flow import find_flow, load_flows
from engine.model.project import Project
from engine.runtime.clock import SystemClock
from engine.runtime.monitor import Monitor
from engine.store import Database, Store
from engine.store.models import JOURNEYS, STEPS
from tui.reader import Focus, Reader

EXAMPLES = Path(__file__).resolve().parents[1] / "flows"
TARGET_MS = 100
J = JOURNEYS.c
S = STEPS.c

JOURNEYS_SQL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO journeys (id, flow, customer_id, object, state, ready_at, wake_on, entered_at,
                      arrived_at, via, data, claim_id, release_id)
SELECT i, 'welcome', i,
       CASE WHEN i % 10 < 4 THEN 'opened' WHEN i % 10 < 9 THEN 'reminder' ELSE 'welcome-mail' END,
       CASE WHEN i % 10 < 4 THEN 'active' WHEN i % 10 < 9 THEN 'finished' ELSE 'failed' END,
       CASE WHEN i % 10 < 4 THEN '2026-01-08T09:00:00.000000+00:00' END,
       CASE WHEN i % 10 < 4 THEN 'open' END,
       '2026-01-05T09:00:00.000000+00:00', '2026-01-05T09:00:00.000000+00:00', 'new-subscribers', '{}',
       NULL, NULL
FROM n
"""
CUSTOMERS_SQL = """
INSERT INTO customers (system_id, external_id, email, unsubscribed, bounced, soft_bounces,
                       profile, created_at, updated_at)
SELECT id, 'C' || id, 'c' || id || '@example.com', 0, 'none', 0, '{}', entered_at, entered_at
FROM journeys
"""
STEPS_SQL = [
    "SELECT id, 'new-subscribers', 'out', 'selected' FROM journeys",
    "SELECT id, 'welcome-mail', CASE WHEN state = 'failed' THEN NULL ELSE 'sent' END, "
    "CASE WHEN state = 'failed' THEN 'failed: SMTP 550' ELSE 'sent' END FROM journeys",
    "SELECT id, 'opened', 'no', 'no open within 3d' FROM journeys WHERE object = 'reminder'",
    "SELECT id, 'reminder', 'sent', 'sent' FROM journeys WHERE object = 'reminder'",
]
EVENTS_SQL = """
INSERT INTO events (kind, at, customer_id, flow, object, journey_id, data)
SELECT CASE WHEN state = 'failed' THEN 'failed' ELSE 'sent' END, entered_at, customer_id,
       'welcome', 'welcome-mail', id, '{}'
FROM journeys
"""


def build(path: Path, count: int) -> None:
    """The database: schema by the store, rows by SQLite itself."""
    Database(f"sqlite:///{path}").create_schema()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.execute(JOURNEYS_SQL, {"count": count})
    conn.execute(CUSTOMERS_SQL)
    for rows in STEPS_SQL:
        conn.execute(
            "INSERT INTO steps (journey_id, object, output, reason, flow, at) "
            f"SELECT s.*, 'welcome', '2026-01-05T09:00:00.000000+00:00' FROM ({rows}) AS s"
        )
    conn.execute(EVENTS_SQL)
    conn.execute("COMMIT")
    conn.close()


def add_batch(path: Path, size: int = 1000) -> None:
    """One batch's worth of new steps, as a worker would add them."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO steps (journey_id, flow, object, output, reason, at) "
        "SELECT id, 'welcome', 'opened', 'no', 'no open within 3d', '2026-01-08T09:00:00.000000+00:00' "
        "FROM journeys WHERE object = 'opened' LIMIT ?",
        (size,),
    )
    conn.close()


def _after_batch(path: Path, action: object) -> float:
    """Milliseconds of ``action`` right after a batch of new steps was written."""
    add_batch(path)
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def median_ms(action: object, runs: int = 5) -> float:
    """The median of a few runs, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@scenario("tui")
def run(scale: float) -> list[Result]:
    count = max(int(1_000_000 * scale), 1000)
    project = Project.load(EXAMPLES)
    flows, _ = load_flows(project)
    welcome = find_flow(project, "welcome")
    with tempfile.TemporaryDirectory(prefix="sluis-bench-tui-") as folder:
        path = Path(folder) / "tui.db"
        with timer() as made:
            build(path, count)
        store = Store(Database(f"sqlite:///{path}"), project)
        monitor = Monitor(flows)
        with timer() as first, store.db.read() as conn:
            monitor.refresh(conn)

        def refresh() -> None:
            with store.db.read() as conn:
                monitor.refresh(conn)

        refresh_ms = statistics.median(_after_batch(path, refresh) for _ in range(5))
        reader = Reader(store, flows, SystemClock())
        reader.snapshot(Focus("welcome"))
        focus = Focus("welcome", "opened")
        screen_ms = median_ms(lambda: reader.snapshot(focus))

        def plain() -> None:
            with store.db.read() as conn:
                conn.execute(
                    select(S.object, S.output, func.count())
                    .where(S.flow == welcome.name)
                    .group_by(S.object, S.output)
                ).all()
                conn.execute(
                    select(J.object, J.state, func.count())
                    .where(J.flow == welcome.name)
                    .group_by(J.object, J.state)
                ).all()

        plain_ms = median_ms(plain, runs=3)
        with store.db.read() as conn:
            steps = conn.execute(select(func.count()).select_from(STEPS)).scalar()
        store.db.dispose()
    notes = {"journeys": f"{count:,}", "steps": f"{steps:,}", "build": f"{made[0]:.0f}s"}
    return [
        Result("refresh", "ms", refresh_ms, plain_ms, False, f"< {TARGET_MS} ms", notes),
        Result("screen", "ms", screen_ms, plain_ms, False, f"< {TARGET_MS} ms"),
        Result("first refresh", "ms", first[0] * 1000, plain_ms, False, "once, in a worker"),
    ]
