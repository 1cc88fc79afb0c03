"""Runtime throughput: 100,000 customers through selection -> split -> update -> group ->
bucket -> end on SQLite, against a hand-written sqlite3 baseline doing the same work with
set-based SQL. Each side runs in its own process so peak memory is its own."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Result, peak_rss_mb, scenario

FLOW = """
objects:
  everyone: {type: selection, where: customer.newsletter == true, next: by-country}
  by-country:
    type: split
    branches: {dutch: customer.country == "NL"}
    next: {dutch: score, otherwise: score}
  score: {type: update, set: {segment: "{{ customer.country|lower }}-active"}, next: tag}
  tag: {type: group, add: [bench], next: pool}
  pool: {type: bucket, size: 1000, every: 1h, next: done}
  done: {type: end}
"""
SETTINGS = """
timezone: UTC
profile: {first_name: str, country: str, newsletter: bool, segment: str}
"""
COUNTRIES = ("NL", "BE", "DE", "FR")


def _seed(path: Path, count: int) -> None:
    """Customers written directly (setup, not measured)."""
    from engine.model.project import Project
    from engine.store import Database

    db = Database(f"sqlite:///{path}")
    db.create_schema()
    db.dispose()
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat(timespec="microseconds")
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO customers (external_id, email, unsubscribed, bounced, soft_bounces, "
        "profile, created_at, updated_at) VALUES (?, ?, 0, 'none', 0, ?, ?, ?)",
        (
            (
                f"C{i:07d}",
                f"c{i}@example.com",
                json.dumps(
                    {"first_name": f"N{i}", "country": COUNTRIES[i % 4], "newsletter": True}
                ),
                now,
                now,
            )
            for i in range(count)
        ),
    )
    conn.commit()
    conn.close()
    del Project


def _engine(folder: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from engine.model.flow import find_flow
    from engine.model.project import Project
    from engine.runtime.clock import VirtualClock
    from engine.runtime.gctune import tune_collector
    from engine.runtime.runner import Runtime
    from engine.store import Store

    tune_collector()  # as the sluis command does
    root = Path(folder)
    (root / "flows").mkdir()
    (root / "sluis.yaml").write_text(textwrap.dedent(SETTINGS))
    (root / "flows" / "bench.yaml").write_text(textwrap.dedent(FLOW))
    project = Project.load(root)
    _seed(root / "sluis.db", count)
    store = Store.open(project)
    runtime = Runtime(
        store, [find_flow(project, "bench")], VirtualClock(datetime(2026, 1, 5, tzinfo=UTC))
    )
    runtime.start("bench")
    start, cpu = time.perf_counter(), time.process_time()
    runtime.fire_due()
    runtime.run_until_idle()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    with store.db.read() as conn:
        steps = conn.exec_driver_sql("SELECT count(*) FROM steps").scalar_one()
        finished = conn.exec_driver_sql(
            "SELECT count(*) FROM journeys WHERE state='finished'"
        ).scalar_one()
    out.put(
        {"seconds": seconds, "cpu": cpu, "steps": steps, "finished": finished, "rss": peak_rss_mb()}
    )


def _baseline(folder: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """The same work by hand: sqlite3, batches of 1,000, executemany."""
    path = Path(folder) / "base.db"
    _seed(path, count)
    conn = sqlite3.connect(path, isolation_level=None)
    # the same settings the engine uses, so the comparison is of the work, not the disk
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint=4000")
    conn.execute("PRAGMA cache_size=-65536")
    start, cpu = time.perf_counter(), time.process_time()
    now = "2026-01-05T00:00:00.000000+00:00"
    objects = ("everyone", "by-country", "score", "tag", "pool", "done")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO groups (name, created_at) VALUES ('bench', ?)", (now,))
    gid = conn.execute("SELECT id FROM groups WHERE name='bench'").fetchone()[0]
    conn.execute("COMMIT")
    last = 0
    while True:
        rows = conn.execute(
            "SELECT system_id, profile FROM customers WHERE system_id > ? ORDER BY system_id LIMIT 1000",
            (last,),
        ).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        conn.execute("BEGIN IMMEDIATE")
        ids = []
        for sid, profile in rows:
            if json.loads(profile).get("newsletter") is True:
                ids.append(sid)
        cur = conn.executemany(
            "INSERT INTO journeys (flow, customer_id, object, state, ready_at, entered_at, "
            "arrived_at, via, data) VALUES ('bench', ?, 'by-country', 'active', ?, ?, ?, "
            "'everyone', '{}')",
            ((sid, now, now, now) for sid in ids),
        )
        jids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM journeys ORDER BY id DESC LIMIT ?", (len(ids),)
            ).fetchall()
        ][::-1]
        conn.execute("COMMIT")
        profiles = {sid: json.loads(p) for sid, p in rows}
        for obj in objects:
            conn.execute("BEGIN IMMEDIATE")
            if obj == "score":
                conn.executemany(
                    "UPDATE customers SET profile=?, updated_at=? WHERE system_id=?",
                    (
                        (
                            json.dumps(
                                {
                                    **profiles[s],
                                    "segment": profiles[s]["country"].lower() + "-active",
                                }
                            ),
                            now,
                            s,
                        )
                        for s in ids
                    ),
                )
            if obj == "tag":
                conn.executemany(
                    "INSERT OR IGNORE INTO memberships (group_id, customer_id, added_at) VALUES (?, ?, ?)",
                    ((gid, s, now) for s in ids),
                )
            conn.executemany(
                "INSERT INTO steps (journey_id, flow, object, at, output, reason) VALUES (?, 'bench', ?, ?, 'out', 'r')",
                ((j, obj, now) for j in jids),
            )
            conn.executemany(
                "UPDATE journeys SET object=?, ready_at=?, arrived_at=? WHERE id=?",
                ((obj, now, now, j) for j in jids),
            )
            conn.execute("COMMIT")
        del cur
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    steps = conn.execute("SELECT count(*) FROM steps").fetchone()[0]
    out.put({"seconds": seconds, "cpu": cpu, "steps": steps, "rss": peak_rss_mb()})


def _in_process(target: object, count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        context = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
        proc = context.Process(target=target, args=(folder, count, queue))
        proc.start()
        while True:
            try:
                result: dict[str, float] = queue.get(timeout=1)
                break
            except Exception:  # queue.Empty: keep waiting while the child lives
                if not proc.is_alive():
                    raise RuntimeError(f"benchmark process failed (exit {proc.exitcode})") from None
        proc.join()
        return result


@scenario("runtime")
def runtime_throughput(scale: float) -> list[Result]:
    count = max(1000, int(100_000 * scale))
    engine = _in_process(_engine, count)
    base = _in_process(_baseline, count)
    assert engine["finished"] == count, engine
    rate = engine["steps"] / engine["seconds"]
    base_rate = base["steps"] / base["seconds"]
    # CPU time too: on a shared machine wall time measures the neighbours as well
    cpu_rate = engine["steps"] / engine["cpu"]
    base_cpu_rate = base["steps"] / base["cpu"]
    return [
        Result(
            "steps per CPU second", "steps/s", cpu_rate, base_cpu_rate, True, ">= 50,000; within 3x"
        ),
        Result(
            "journey steps per second",
            "steps/s",
            rate,
            base_rate,
            True,
            ">= 50,000; within 3x",
            {
                "customers": f"{count:,}",
                "steps": f"{int(engine['steps']):,}",
                "engine_s": f"{engine['seconds']:.1f}",
                "baseline_s": f"{base['seconds']:.1f}",
            },
        ),
        Result("peak memory", "MB", engine["rss"], base["rss"], False, "< 300 MB"),
    ]
