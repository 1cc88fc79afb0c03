"""Segment benchmarks (issue 15): expressions run in the database, beside hand-written SQL.

``segment-export``: ``sluis export --where 'customer.country == "NL" and customer.score > 50'``
over N customers (engine: the compiled expression, keyset reads, typed customers, the CSV
writer of ``sluis export``) against the floor: a hand-written query plus ``csv.writer`` over a
plain typed table holding the same customers (the database holds no orders). Then again
with ``index: true`` on both fields (the indexes sluis creates) against the floor with the same
indexes on its table. Targets: within 4x of the floor, 2x with the indexes.

``segment-orders``: a selection over N customers and 5N orders on ``count(records.orders where
status == "paid" and days_since(created_at) <= 30) >= 2`` (engine: ``matching_ids``, the
correlated subquery the compiler writes) against hand-written SQL (GROUP BY ... HAVING over
the records). Target: within 2x.

Each run is a child process (its peak memory is its own; target < 300 MB; the engine's with
the garbage collector set as the ``sluis`` command sets it); the engine's rows
are checked equal to the baseline's; each figure is the fastest of three runs, in turns. Both on SQLite and on PostgreSQL (skipped when it is not
reachable). ``--scale 0.1`` runs 100,000 customers.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.harness import Result, peak_rss_mb, scenario

FULL = 1_000_000
ORDERS_PER_CUSTOMER = 5
RUNS = 3  # each figure is the fastest of this many runs
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ADMIN = os.environ.get(
    "SLUIS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
WHERE = 'customer.country == "NL" and customer.score > 50'
ORDERS_WHERE = 'count(records.orders where status == "paid" and days_since(created_at) <= 30) >= 2'
SETTINGS = """database: {url}
timezone: UTC
profile:
  first_name: str
  country: {country}
  score: {score}
  newsletter: bool
datamodel:
  orders:
    key: order_id
    fields: {{order_id: str, total: decimal, status: str}}
"""
COUNTRIES = ("NL", "BE", "DE", "FR")
FIELDS = ("country", "score")  # the fields of WHERE: the two that index: true indexes
STATUSES = ("paid", "paid", "open", "cancelled")


def write_project(folder: Path, url: str, *, indexed: bool) -> None:
    country = "{type: str, index: true}" if indexed else "str"
    score = "{type: int, index: true}" if indexed else "int"
    (folder / "flows").mkdir(parents=True, exist_ok=True)
    (folder / "sluis.yaml").write_text(SETTINGS.format(url=url, country=country, score=score))


def customers(n: int) -> Iterator[tuple[Any, ...]]:
    """(system_id, email, first_name, country, score, newsletter), the same every run."""
    rng = random.Random(15)
    for i in range(1, n + 1):
        country = COUNTRIES[rng.randrange(4)]
        score = None if rng.random() < 0.05 else rng.randrange(101)
        yield (i, f"c{i}@example.com", f"Name{i}", country, score, rng.random() < 0.5)


def orders(n: int) -> Iterator[tuple[Any, ...]]:
    """(key, customer_id, status, total, created_at)."""
    rng = random.Random(16)
    for i in range(1, n * ORDERS_PER_CUSTOMER + 1):
        at = NOW - timedelta(seconds=rng.randrange(365 * 86_400))
        total = f"{rng.randrange(1, 50_000) / 100:.2f}"
        yield (f"o{i}", rng.randrange(1, n + 1), STATUSES[rng.randrange(4)], total, at)


# -- setting up a database (not measured) -----------------------------------------------------


def fill(url: str, n: int, *, with_orders: bool) -> None:
    """The engine's tables with N customers (and 5N orders when ``with_orders``: the export's
    database holds none, so both sides read tables of the same customers only), and the
    plain typed table."""
    from engine.store import Database

    db = Database(url)
    db.create_schema()
    db.dispose()
    stamp = NOW.isoformat(timespec="microseconds")
    plain = (
        "CREATE TABLE plain_customers (system_id integer PRIMARY KEY, email text, "
        "first_name text, country text, score integer, newsletter boolean)"
    )
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute(plain)
        conn.executemany(
            "INSERT INTO customers (system_id, email, unsubscribed, bounced, soft_bounces, "
            "profile, created_at, updated_at) VALUES (?, ?, 0, 'none', 0, ?, ?, ?)",
            ((r[0], r[1], _profile(r), stamp, stamp) for r in customers(n)),
        )
        conn.executemany("INSERT INTO plain_customers VALUES (?, ?, ?, ?, ?, ?)", customers(n))
        conn.executemany(
            "INSERT INTO records (collection, key, customer_id, data, created_at, updated_at) "
            "VALUES ('orders', ?, ?, ?, ?, ?)",
            (
                (key, owner, _order(key, status, total), _iso(at), _iso(at))
                for key, owner, status, total, at in (orders(n) if with_orders else ())
            ),
        )
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        return
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(plain)
        with conn.cursor().copy(
            "COPY customers (system_id, email, unsubscribed, bounced, soft_bounces, profile, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for r in customers(n):
                copy.write_row((r[0], r[1], False, "none", 0, _profile(r), NOW, NOW))
        with conn.cursor().copy("COPY plain_customers FROM STDIN") as copy:
            for r in customers(n):
                copy.write_row(r)
        with conn.cursor().copy(
            "COPY records (collection, key, customer_id, data, created_at, updated_at) FROM STDIN"
        ) as copy:
            for key, owner, status, total, at in orders(n) if with_orders else ():
                copy.write_row(("orders", key, owner, _order(key, status, total), at, at))
        conn.execute("SELECT setval('customers_system_id_seq', %s)", (n,))
        conn.execute("VACUUM ANALYZE")


def setup(folder: Path, url: str, *, indexed: bool) -> None:
    """Open the store (it creates the indexes of ``index: true`` or drops them) and give the
    plain table the same indexes or none: the floor of the indexed export is a typed table
    indexed as the engine's is, like for like."""
    from engine.model.project import Project
    from engine.store import Store

    Store.open(Project.load(folder))
    if indexed:
        statements = [f"CREATE INDEX plain_{f} ON plain_customers ({f})" for f in FIELDS]
    else:
        statements = [f"DROP INDEX IF EXISTS plain_{f}" for f in FIELDS]
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
        return
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as pg:
        for statement in statements:
            pg.execute(statement)


def _profile(row: tuple[Any, ...]) -> str:
    _, _, first, country, score, newsletter = row
    data = {"first_name": first, "country": country, "score": score, "newsletter": newsletter}
    return json.dumps(data)


def _order(key: str, status: str, total: str) -> str:
    return json.dumps({"order_id": key, "status": status, "total": total})


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str | None]:
    """A fresh database URL (None when PostgreSQL is not reachable)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    name = f"sluis_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        yield None
        return
    try:
        yield ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- what the child processes run -------------------------------------------------------------


def engine_export(folder: Path) -> dict[str, Any]:
    """What ``sluis export --where`` runs (cli/files.py), without its progress bar. The
    modules are imported before the clock starts, as the baseline's are."""
    from engine.files import Files, record_exports
    from engine.files.exports import columns_of
    from engine.files.segment_export import export_segment
    from engine.model.expressions import Expression
    from engine.model.project import Project
    from engine.runtime.gctune import leave_start_up
    from engine.store import Store, segments
    from engine.store.sqlexpr import check, fields_of

    assert segments.matching_rows and record_exports  # segment_cells imports them late
    project = Project.load(folder)
    store = Store.open(project)  # creates the columns and indexes sluis.yaml asks for (in setup)
    leave_start_up()  # as sluis export does once the store is open
    files = Files()
    place = files.place("engine.csv", project)
    columns = columns_of(["system_id", "email", "country", "score"], project.customer_fields)
    scope = {"data": {}, "now": NOW, "today": NOW.date(), "flow": "", "object": ""}
    check(Expression.parse(WHERE), *fields_of(project))  # the modules it imports on first use
    started, cpu = time.perf_counter(), time.process_time()
    expr = Expression.parse(WHERE)
    check(expr, *fields_of(project))
    with store.db.read() as conn:
        _, rows = export_segment(
            conn,
            project,
            place,
            columns,
            where=expr,
            group=None,
            now=NOW,
            today=NOW.date(),
            scope=scope,
        )
    seconds = time.perf_counter() - started
    files.close()
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "rows": rows,
        "peak_mb": peak_rss_mb(),
    }


def baseline_export(url: str, folder: Path) -> dict[str, Any]:
    query = (
        "SELECT system_id, email, country, score FROM plain_customers "
        "WHERE country = 'NL' AND score > 50 ORDER BY system_id"
    )
    connected = _connected(url)
    started, cpu = time.perf_counter(), time.process_time()
    with (folder / "baseline.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["system_id", "email", "country", "score"])
        rows = 0
        for batch in _stream(connected, query):
            writer.writerows(batch)
            rows += len(batch)
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rows": rows,
        "peak_mb": peak_rss_mb(),
    }


def engine_orders(folder: Path) -> dict[str, Any]:
    from engine.model.expressions import Expression
    from engine.model.project import Project
    from engine.store import Store
    from engine.store.segments import matching_ids

    project = Project.load(folder)
    store = Store.open(project)
    started, cpu = time.perf_counter(), time.process_time()
    expr = Expression.parse(ORDERS_WHERE)
    chosen: list[int] = []
    with store.db.read() as conn:
        for ids in matching_ids(conn, project, expr, now=NOW, today=NOW.date()):
            chosen.extend(ids)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "rows": len(chosen),
        "digest": hash(tuple(chosen)),
        "peak_mb": peak_rss_mb(),
    }


def baseline_orders(url: str) -> dict[str, Any]:
    since = _iso(NOW - timedelta(days=31))
    status = "json_extract(data, '$.status')" if url.startswith("sqlite") else "data->>'status'"
    moment = f"'{since}'" if url.startswith("sqlite") else f"'{since}'::timestamptz"
    query = (
        f"SELECT customer_id FROM records WHERE collection = 'orders' AND created_at > {moment} "
        f"AND {status} = 'paid' GROUP BY customer_id HAVING count(*) >= 2 ORDER BY customer_id"
    )
    connected = _connected(url)
    started, cpu = time.perf_counter(), time.process_time()
    chosen = [row[0] for batch in _stream(connected, query) for row in batch]
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "rows": len(chosen),
        "digest": hash(tuple(chosen)),
        "peak_mb": peak_rss_mb(),
    }


def _stream(connected: tuple[Any, Any], query: str) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``query`` in batches, on a connection made before the clock started (as
    the engine's is: ``Store.open`` connects)."""
    conn, cursor = connected
    cursor.execute(query)
    while batch := cursor.fetchmany(10_000):
        yield batch
    conn.close()


def _connected(url: str) -> tuple[Any, Any]:
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        return conn, conn.cursor()
    import psycopg

    connection = psycopg.connect(_libpq(url))
    return connection, connection.cursor(name="bench")


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.s_segments", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# -- the scenarios ----------------------------------------------------------------------------


def _result(
    name: str, kind: str, engine: dict[str, Any], base: dict[str, Any], target: str
) -> Result:
    if engine["rows"] != base["rows"] or engine.get("digest") != base.get("digest"):
        raise AssertionError(f"{name} on {kind}: the engine chose other rows than the baseline")
    return Result(
        f"{name}, {kind}",
        "s",
        engine["seconds"],
        base["seconds"],
        higher_is_better=False,
        target=target,
        notes={
            "rows": f"{engine['rows']:,}",
            "cpu ratio": f"{engine['cpu'] / max(base['cpu'], 1e-9):.2f}x",
            "engine MB": f"{engine['peak_mb']:.0f}",
            "baseline MB": f"{base['peak_mb']:.0f}",
        },
    )


def _same_csv(folder: Path) -> dict[str, Any]:
    """The engine's file and the baseline's hold the same rows (digest for _result)."""
    engine = (folder / "engine.csv").read_text()
    base = (folder / "baseline.csv").read_text()
    if engine != base:
        raise AssertionError("the engine's export differs from the baseline's")
    return {"digest": None}


def _export(folder: Path) -> dict[str, Any]:
    (folder / "engine.csv").unlink(missing_ok=True)
    engine = _child("engine-export", str(folder))
    _same_csv(folder)
    return engine


def _best_of(
    baseline: Callable[[], dict[str, Any]], engine: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fastest of RUNS runs of each, taken in turns: on a shared machine one run of a
    sub-second figure says more about the neighbours than about the code."""
    bases, engines = [], []
    for _ in range(RUNS):
        bases.append(baseline())
        engines.append(engine())
    return min(bases, key=_seconds), min(engines, key=_seconds)


def _seconds(figures: dict[str, Any]) -> float:
    return float(figures["seconds"])


@scenario("segment-export")
def segment_export(scale: float) -> list[Result]:
    n = max(1000, int(FULL * scale))
    results = []
    for kind in ("sqlite", "postgresql"):
        with (
            tempfile.TemporaryDirectory(prefix="sluis-bench-") as tmp,
            database(kind, Path(tmp)) as url,
        ):
            if url is None:
                continue
            folder = Path(tmp)
            write_project(folder, url, indexed=False)
            _child("fill", url, str(n), "customers")  # a child: this process stays small
            plain = 0.0  # the floor's seconds without indexes
            for indexed in (False, True):
                write_project(folder, url, indexed=indexed)
                # creates (or drops) the indexes
                _child("setup", str(folder), url, "indexed" if indexed else "plain")
                base, engine = _best_of(
                    partial(_child, "baseline-export", url, str(folder)),
                    partial(_export, folder),
                )
                label = "export, index: true" if indexed else "export"
                result = _result(label, kind, engine, base, "< 2x" if indexed else "< 4x")
                if indexed:  # an index on a field a quarter of the customers match slows the
                    # floor too: the figure against the floor without indexes, to read beside it
                    result.notes["vs floor without indexes"] = f"{engine['seconds'] / plain:.2f}x"
                plain = base["seconds"]
                results.append(result)
    return results


@scenario("segment-orders")
def segment_orders(scale: float) -> list[Result]:
    n = max(1000, int(FULL * scale))
    results = []
    for kind in ("sqlite", "postgresql"):
        with (
            tempfile.TemporaryDirectory(prefix="sluis-bench-") as tmp,
            database(kind, Path(tmp)) as url,
        ):
            if url is None:
                continue
            folder = Path(tmp)
            write_project(folder, url, indexed=False)
            _child("fill", url, str(n), "orders")  # a child: this process stays small
            base, engine = _best_of(
                partial(_child, "baseline-orders", url),
                partial(_child, "engine-orders", str(folder)),
            )
            results.append(_result("orders selection", kind, engine, base, "< 2x"))
    return results


if __name__ == "__main__":
    command = sys.argv[1]
    result: dict[str, Any]
    if command.startswith("engine-"):
        from engine.runtime.gctune import tune_collector

        tune_collector()  # as the sluis command does, before it imports anything heavy
    if command == "fill":
        fill(sys.argv[2], int(sys.argv[3]), with_orders=sys.argv[4] == "orders")
        result = {}
    elif command == "setup":
        setup(Path(sys.argv[2]), sys.argv[3], indexed=sys.argv[4] == "indexed")
        result = {}
    elif command == "engine-export":
        result = engine_export(Path(sys.argv[2]))
    elif command == "baseline-export":
        result = baseline_export(sys.argv[2], Path(sys.argv[3]))
    elif command == "engine-orders":
        result = engine_orders(Path(sys.argv[2]))
    else:
        result = baseline_orders(sys.argv[2])
    print(json.dumps(result))
