"""Files benchmarks: importing customers from a CSV, and exporting customers through bucket ->
export.

``import``: N rows of 8 columns into SQLite with ``import_csv`` (typing, change detection,
rejects, duplicate keys, set-based upserts in chunks, one transaction) against a baseline that
does the same upsert with ``csv.reader`` and ``executemany`` in one transaction, on a
connection set up as the engine's (the same pragmas); then the same file again (every row
unchanged), then a file with the same keys and two changed values in every row. Each run is a
subprocess, so its peak memory is its own; the engine also imports a tenth of the file, to show
memory stays flat as files grow. Engine and baseline take turns, and CPU seconds are noted
beside the wall-clock ratio: on a shared machine the CPU ratio is the steadier figure.

``export``: N customers through a flow ``selection -> bucket (size 1,000) -> export`` on the
engine's runtime, in a subprocess: seconds and peak memory (target under 500 MB).

Run ``python -m bench import export`` (``--scale 0.1`` for a quick look).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Result, peak_rss_mb, scenario

FULL = 1_000_000
SETTINGS = """database: sqlite:///bench.db
timezone: UTC
profile:
  first_name: str
  last_name: str
  country: str
  newsletter: bool
  birthday: date
  score: int
"""
HEADER = [
    "external_id",
    "email",
    "first_name",
    "last_name",
    "country",
    "newsletter",
    "birthday",
    "score",
]
COUNTRIES = ("NL", "BE", "DE", "FR")
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# what engine.store.db sets on every SQLite connection, so the baseline runs on the same footing
ENGINE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "wal_autocheckpoint=4000",
    "cache_size=-65536",
    "foreign_keys=ON",
)


def make_csv(path: Path, rows: int, *, changed: bool = False) -> None:
    """``rows`` customers; ``changed``: the same customers with another first name and score."""
    mark, shift = ("x", 1) if changed else ("", 0)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow(
                [
                    f"C{n:07d}",
                    f"c{n}@example.com",
                    f"First{n % 997}{mark}",
                    f"Last{n % 1009}",
                    COUNTRIES[n % 4],
                    "true" if n % 3 else "false",
                    f"19{50 + n % 50}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                    str((n + shift) % 100),
                ]
            )


def make_project(folder: Path) -> None:
    (folder / "flows").mkdir(parents=True, exist_ok=True)
    (folder / "sluis.yaml").write_text(SETTINGS)


def _child(*args: str) -> dict[str, float]:
    """Run this module in a fresh interpreter; it prints one JSON line of figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.s_files", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# -- what the subprocesses run ----------------------------------------------------------------


def engine_import(folder: Path, name: str, times: int) -> dict[str, float]:
    from engine.files import Files
    from engine.files.imports import ImportSpec, import_csv
    from engine.model.project import Project
    from engine.store import Store

    project = Project.load(folder)
    store = Store.open(project)
    store.db.create_schema()
    place = Files().place(name, project)
    figures: dict[str, float] = {}
    for run in range(times):
        started, cpu = time.perf_counter(), time.process_time()
        with store.db.write() as conn:
            report = import_csv(conn, place, ImportSpec(), project, NOW)
        figures[f"seconds{run}"] = time.perf_counter() - started
        figures[f"cpu{run}"] = time.process_time() - cpu
        figures[f"rows{run}"] = report.imported
    figures["peak_mb"] = peak_rss_mb()
    return figures


def baseline_import(folder: Path, name: str, times: int) -> dict[str, float]:
    from engine.store import Database

    url = f"sqlite:///{folder / 'bench.db'}"
    database = Database(url)
    database.create_schema()  # the same table and indexes as the engine's
    database.dispose()
    conn = sqlite3.connect(folder / "bench.db", isolation_level=None)
    for pragma in ENGINE_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    stamp = NOW.isoformat(timespec="microseconds")
    sql = (
        "INSERT INTO customers (external_id, email, timezone, unsubscribed, bounced, "
        "soft_bounces, profile, created_at, updated_at) VALUES (?, ?, NULL, 0, 'none', 0, ?, ?, ?) "
        "ON CONFLICT(external_id) DO UPDATE SET email = excluded.email, "
        "profile = excluded.profile, updated_at = excluded.updated_at"
    )

    def rows(reader: Iterator[list[str]]) -> Iterator[tuple[str, ...]]:
        at = {column: index for index, column in enumerate(next(reader))}
        external_id, email, first, last, country, newsletter, birthday, score = (
            at[column] for column in HEADER
        )
        for row in reader:
            profile = {
                "first_name": row[first] or None,
                "last_name": row[last] or None,
                "country": row[country] or None,
                "newsletter": row[newsletter].lower() == "true",
                "birthday": row[birthday] or None,
                "score": int(row[score]) if row[score] else None,
            }
            yield row[external_id], row[email], json.dumps(profile), stamp, stamp

    figures: dict[str, float] = {}
    for run in range(times):
        started, cpu = time.perf_counter(), time.process_time()
        with (folder / name).open(newline="") as handle:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows(csv.reader(handle)))
            conn.execute("COMMIT")
        figures[f"seconds{run}"] = time.perf_counter() - started
        figures[f"cpu{run}"] = time.process_time() - cpu
    conn.close()
    figures["peak_mb"] = peak_rss_mb()
    return figures


EXPORT_FLOW = """name: everyone
objects:
  everyone:
    type: selection
    next: in-thousands
  in-thousands:
    type: bucket
    size: 1000
    every: 1h
    next: export
  export:
    type: export
    to: "exports/everyone_{{ today|date('%Y%m%d') }}.csv"
    columns:
      - external_id
      - email
      - first_name
      - {header: country, value: "{{ customer.country|lower }}"}
"""


def engine_export(folder: Path) -> dict[str, float]:
    from engine.model.flow import load_flow
    from engine.model.project import Project
    from engine.runtime.clock import VirtualClock
    from engine.runtime.runner import Runtime
    from engine.sdk.effects import Effects
    from engine.store import Store

    project = Project.load(folder)
    store = Store.open(project)
    flow = load_flow(project.flows_dir / "everyone.yaml", project)
    clock = VirtualClock(NOW)
    runtime = Runtime(store, [flow], clock, Effects(), owner="bench")
    started = time.perf_counter()
    runtime.start(flow.name)
    while True:
        runtime.fire_due()
        runtime.run_until_idle()
        due = runtime.next_due()
        if due is None:
            break
        clock.set(due)
    seconds = time.perf_counter() - started
    files = list((folder / "exports").iterdir())
    rows = sum(sum(1 for _ in f.open()) - 1 for f in files)
    return {"seconds": seconds, "peak_mb": peak_rss_mb(), "files": len(files), "rows": rows}


# -- the scenarios ----------------------------------------------------------------------------


IMPORTS = (
    ("import, new rows", "customers.csv"),
    ("import again, unchanged", "customers.csv"),
    ("import again, changed", "changed.csv"),
)


@scenario("import")
def import_customers(scale: float) -> list[Result]:
    rows = max(1000, int(FULL * scale))
    with tempfile.TemporaryDirectory(prefix="sluis-bench-") as tmp:
        root = Path(tmp)
        make_csv(root / "customers.csv", rows)
        make_csv(root / "changed.csv", rows, changed=True)
        make_csv(root / "tenth.csv", rows // 10)
        runs: dict[str, list[dict[str, float]]] = {"engine": [], "baseline": []}
        for who in runs:
            folder = root / who
            make_project(folder)
            for name in {name for _, name in IMPORTS}:
                os.link(root / name, folder / name)
        for _, name in IMPORTS:  # engine and baseline take turns
            for who in runs:
                runs[who].append(_child(f"{who}-import", str(root / who), name, "1"))
        small = root / "small"
        make_project(small)
        os.link(root / "tenth.csv", small / "tenth.csv")
        tenth = _child("engine-import", str(small), "tenth.csv", "1")
    engine, baseline = runs["engine"], runs["baseline"]
    results = []
    for (figure, _), mine, theirs in zip(IMPORTS, engine, baseline, strict=True):
        results.append(
            Result(
                figure,
                "rows/s",
                rows / mine["seconds0"],
                rows / theirs["seconds0"],
                target="<= 2.5x",
                notes={
                    "rows": f"{rows:,}",
                    "engine s": f"{mine['seconds0']:.1f}",
                    "baseline s": f"{theirs['seconds0']:.1f}",
                    "cpu s": f"{mine['cpu0']:.1f}/{theirs['cpu0']:.1f}",
                    "cpu ratio": f"{mine['cpu0'] / theirs['cpu0']:.2f}x",
                },
            )
        )
    results.append(
        Result(
            "import peak memory",
            "MB",
            max(r["peak_mb"] for r in engine),
            max(r["peak_mb"] for r in baseline),
            higher_is_better=False,
            target="flat",
            notes={f"{rows // 10:,} rows": f"{tenth['peak_mb']:.0f} MB"},
        )
    )
    return results


@scenario("export")
def export_customers(scale: float) -> list[Result]:
    rows = max(1000, int(FULL * scale))
    with tempfile.TemporaryDirectory(prefix="sluis-bench-") as tmp:
        folder = Path(tmp)
        make_project(folder)
        (folder / "flows" / "everyone.yaml").write_text(EXPORT_FLOW)
        make_csv(folder / "customers.csv", rows)
        baseline_import(folder, "customers.csv", 1)  # setup, not measured
        figures = _child("engine-export", str(folder))
    return [
        Result(
            "bucket -> export",
            "MB peak",
            figures["peak_mb"],
            higher_is_better=False,
            target="< 500",
            notes={
                "customers": f"{int(figures['rows']):,}",
                "files": f"{int(figures['files']):,}",
                "seconds": f"{figures['seconds']:.1f}",
            },
        )
    ]


if __name__ == "__main__":
    command, target = sys.argv[1], Path(sys.argv[2])
    if command == "engine-import":
        result = engine_import(target, sys.argv[3], int(sys.argv[4]))
    elif command == "baseline-import":
        result = baseline_import(target, sys.argv[3], int(sys.argv[4]))
    else:
        result = engine_export(target)
    print(json.dumps(result))
