"""Scale-out: customers through a 6-object flow on PostgreSQL with 1, 2 and 4 worker
processes; journey steps per second for each count. Needs the server on 127.0.0.1:5432
(``SLUIS_TEST_POSTGRES`` names another admin URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.harness import Result, scenario

ADMIN = os.environ.get(
    "SLUIS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
FLOW = """
objects:
  everyone: {type: selection, next: by-country}
  by-country:
    type: split
    branches: {dutch: customer.country == "NL"}
    next: {dutch: score, otherwise: score}
  score: {type: update, set: {segment: "{{ customer.country|lower }}"}, next: tag}
  tag: {type: group, add: [bench], next: pool}
  pool: {type: bucket, size: 1000, every: 1h, next: done}
  done: {type: end}
"""
WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from engine.model.flow import load_flows
    from engine.model.project import Project
    from engine.runtime.gctune import tune_collector
    from engine.store import Database, Store
    from engine.runtime.worker import Worker

    tune_collector()  # as the sluis command does
    project = Project.load(Path(sys.argv[1]))
    flows, _ = load_flows(project)
    Worker(Store(Database(sys.argv[2]), project), flows, idle=0.1).run(once=True)
    """
)


def _run(workers: int, count: int) -> tuple[float, int]:
    from engine.model.flow import find_flow
    from engine.model.project import Project
    from engine.runtime.clock import SystemClock
    from engine.runtime.runner import Runtime
    from engine.store import Database, Store
    from engine.store.customers import upsert_customers

    name = f"sluis_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / "flows").mkdir()
            (root / "sluis.yaml").write_text(
                "timezone: UTC\nprofile: {country: str, segment: str}\n"
            )
            (root / "flows" / "bench.yaml").write_text(textwrap.dedent(FLOW))
            project = Project.load(root)
            store = Store(Database(url), project)
            now = datetime.now(UTC)
            with store.db.write() as conn:
                rows = [
                    {"external_id": f"C{i}", "country": ("NL", "BE")[i % 2]} for i in range(count)
                ]
                for start in range(0, count, 5000):
                    upsert_customers(
                        conn,
                        rows[start : start + 5000],
                        key="external_id",
                        project=project,
                        now=now,
                    )
            runtime = Runtime(store, [find_flow(project, "bench")], SystemClock())
            runtime.start("bench")
            runtime.fire_due()  # the selection enters everyone; the workers move them on
            store.db.dispose()
            began = time.perf_counter()
            procs = [
                subprocess.Popen([sys.executable, "-c", WORKER, str(root), url])
                for _ in range(workers)
            ]
            for proc in procs:
                proc.wait()
            seconds = time.perf_counter() - began
            with create_engine(url).connect() as conn:
                steps = conn.execute(
                    text("SELECT count(*) FROM steps WHERE object <> 'everyone'")
                ).scalar_one()
            return seconds, int(steps)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@scenario("workers")
def scale_out(scale: float) -> list[Result]:
    count = max(2000, int(1_000_000 * scale))
    results = []
    single = None
    for workers in (1, 2, 4):
        seconds, steps = _run(workers, count)
        rate = steps / seconds
        single = single or rate
        results.append(
            Result(
                f"{workers} worker(s): steps per second",
                "steps/s",
                rate,
                single,
                True,
                "report scaling",
                {
                    "customers": f"{count:,}",
                    "seconds": f"{seconds:.1f}",
                    "speed-up": f"{rate / single:.2f}x of 1 worker",
                },
            )
        )
    return results
