"""Journeys at database speed (issue 20): 100,000 customers through selection -> split ->
update -> group -> end, as `sluis start` + `sluis run --once` run them (processes of their
own, as a user runs the commands) on SQLite and on PostgreSQL (one worker), and as
`sluis replay --json` plays them; each beside the floor: the same work as five set-based
statements written by hand, run in the same run on a copy of the same customers. The engine's
steps (with their reasons), group members and field writes must equal the floor's. Then 10,000
customers over 30 simulated days of a flow with waits and mails, replayed. Peak memory is each
process's own (``wait4``).

``python -m bench journeys [--scale F]``; ``--scale 0.05`` runs in well under a minute.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

from bench.harness import Measured, Result, fresh_postgres, run_measured, scenario
from bench.s_runtime import COUNTRIES
from bench.s_runtime import FLOW as RUNTIME_FLOW

# the runtime benchmark's flow without its bucket: the tag leads straight to the end
FLOW = RUNTIME_FLOW.replace("next: pool}", "next: done}").replace(
    "  pool: {type: bucket, size: 1000, every: 1h, next: done}\n", ""
)
assert "bucket" not in FLOW
MONTH = """
objects:
  everyone: {type: selection, next: welcome}
  welcome:
    type: mail
    template: welcome.html
    subject: "Welcome, {{ customer.first_name }}"
    next: {sent: opened, skipped: done}
  opened: {type: wait-for, event: open, mail: welcome, within: 3d, next: {yes: done, no: pause}}
  pause: {type: wait, for: 1w, next: reminder}
  reminder: {type: mail, template: reminder.html, subject: "Still there?", next: later}
  later: {type: wait, for: 2w, next: done}
  done: {type: end}
"""
SETTINGS = """timezone: UTC
profile: {first_name: str, country: str, newsletter: bool, segment: str}
mail: {from: "Shop <news@shop.example>"}
"""
START = "2026-01-05T09:00:00+00:00"
SLUIS = [sys.executable, "-m", "cli"]
# what the engine and the floor both wrote, read in the same order from both databases
WRITES = {
    "steps": "SELECT j.customer_id, s.object, s.output, s.reason FROM steps s "
    "JOIN journeys j ON j.id = s.journey_id ORDER BY j.customer_id, s.id",
    "group members": "SELECT m.customer_id FROM memberships m JOIN groups g "
    "ON g.id = m.group_id WHERE g.name = 'bench' ORDER BY m.customer_id",
    "field writes": "SELECT c.system_id, {segment} FROM customers c ORDER BY c.system_id",
}


def _field(postgres: bool, name: str) -> str:
    return f"(c.profile->>'{name}')" if postgres else f"json_extract(c.profile, '$.{name}')"


def floor_statements(postgres: bool) -> list[str]:
    """The flow's work by hand, set-based: the group, the journeys, their five steps each
    (split decided by CASE, with the engine's reasons), the field write and the members."""
    now = "CAST(:now AS timestamptz)" if postgres else ":now"
    empty = "CAST('{}' AS json)" if postgres else "'{}'"
    newsletter = f"{_field(postgres, 'newsletter')} = " + ("'true'" if postgres else "1")
    dutch = f"{_field(postgres, 'country')} = 'NL'"
    segment = f"lower({_field(postgres, 'country')}) || '-active'"
    profile = (
        f"CAST(c.profile::jsonb || jsonb_build_object('segment', {segment}) AS json)"
        if postgres
        else f"json_set(c.profile, '$.segment', {segment})"
    )
    objects = " UNION ALL ".join(
        f"SELECT {n} AS n, '{name}' AS object"
        for n, name in enumerate(("everyone", "by-country", "score", "tag", "done"))
    )
    return [
        f"INSERT INTO groups (name, created_at) VALUES ('bench', {now})",
        "INSERT INTO journeys (flow, customer_id, object, state, entered_at, arrived_at, via, "
        f"data, version) SELECT 'bench', c.system_id, 'done', 'finished', {now}, {now}, "
        f"'everyone', {empty}, 1 FROM customers c WHERE {newsletter} ORDER BY c.system_id",
        "INSERT INTO steps (journey_id, flow, object, at, output, reason) "
        f"SELECT j.id, 'bench', o.object, {now}, CASE o.object "
        f"WHEN 'by-country' THEN CASE WHEN {dutch} THEN 'dutch' ELSE 'otherwise' END "
        "WHEN 'done' THEN NULL ELSE 'out' END, CASE o.object WHEN 'everyone' THEN 'selected' "
        f"WHEN 'by-country' THEN CASE WHEN {dutch} "
        """THEN 'dutch: customer.country == "NL" was true' """
        "ELSE 'otherwise: no branch matched' END WHEN 'score' THEN 'set segment' "
        "WHEN 'tag' THEN 'added to bench' ELSE 'end' END "
        f"FROM journeys j JOIN customers c ON c.system_id = j.customer_id CROSS JOIN ({objects}) o "
        "WHERE j.flow = 'bench' ORDER BY j.id, o.n",
        f"UPDATE customers AS c SET profile = {profile}, updated_at = {now} "
        "WHERE c.system_id IN (SELECT customer_id FROM journeys WHERE flow = 'bench')",
        "INSERT INTO memberships (group_id, customer_id, added_at) "
        f"SELECT g.id, j.customer_id, {now} FROM journeys j JOIN groups g ON g.name = 'bench' "
        "WHERE j.flow = 'bench' ORDER BY j.customer_id",
    ]


def floor(url: str) -> None:
    """Run the floor on ``url`` in one transaction (with the connection settings the engine
    uses) and print its wall and CPU seconds."""
    from sqlalchemy import text

    from engine.store import Database
    from engine.store.raw import time_param

    db = Database(url)
    began, cpu = time.perf_counter(), time.process_time()
    with db.write() as conn:
        now = time_param(conn, datetime.now(UTC))
        for statement in floor_statements(conn.dialect.name == "postgresql"):
            conn.execute(text(statement), {"now": now})
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu": cpu}))
    db.dispose()


def _project(root: Path, count: int) -> Path:
    """The project (both flows, the mail templates) and its customers' CSV."""
    (root / "flows").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "sluis.yaml").write_text(SETTINGS)
    (root / "flows" / "bench.yaml").write_text(FLOW)
    (root / "flows" / "month.yaml").write_text(MONTH)
    (root / "templates" / "welcome.html").write_text("<p>Welcome, {{ customer.first_name }}</p>")
    (root / "templates" / "reminder.html").write_text("<p>Did you see our welcome?</p>")
    customers = root / f"customers-{count}.csv"
    with customers.open("w") as out:
        out.write("external_id,email,first_name,country,newsletter\n")
        for i in range(count):
            newsletter = "false" if i % 10 == 9 else "true"
            out.write(f"C{i:07d},c{i}@example.com,N{i},{COUNTRIES[i % 4]},{newsletter}\n")
    return customers


@contextmanager
def _databases(kind: str, root: Path) -> Iterator[tuple[str, str]]:
    """Two new databases of ``kind``: the engine's and the floor's."""
    if kind == "SQLite":
        yield f"sqlite:///{root / 'engine.db'}", f"sqlite:///{root / 'floor.db'}"
        return
    with fresh_postgres() as engine_url, fresh_postgres() as floor_url:
        yield engine_url, floor_url


def _seed(root: Path, url: str, customers: Path) -> None:
    """The customers of the CSV in a new database, as a user puts them there: `sluis import`
    (setup, not measured; the same for the engine and the floor, typed profile columns and
    all, so `sluis start` finds the store as a user's)."""
    command = [*SLUIS, "import", str(customers), "--project", str(root)]
    run_measured(command, env={"SLUIS_DATABASE_URL": url})


def _in_child(function: str, *args: str) -> Measured:
    """``function(*args)`` of this module in a process of its own. This process stays small:
    a child's peak memory as Linux counts it (``wait4``) is at least its parent's size when
    it was forked."""
    call = f"from bench.s_journeys import {function}; {function}(*{args!r})"
    return run_measured([sys.executable, "-c", call])


def _rows(url: str, query: str) -> Iterator[tuple[Any, ...]]:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    postgres = engine.dialect.name == "postgresql"
    segment = "c.profile->>'segment'" if postgres else "json_extract(c.profile, '$.segment')"
    try:
        with engine.connect() as conn:
            options = conn.execution_options(stream_results=True, yield_per=5000)
            yield from map(tuple, options.exec_driver_sql(query.format(segment=segment)))
    finally:
        engine.dispose()


def _check_same(engine_url: str, floor_url: str) -> int:
    """Assert the engine wrote what the floor wrote, row by row; return the engine's steps."""
    steps = 0
    for what, query in WRITES.items():
        for number, (mine, theirs) in enumerate(
            zip_longest(_rows(engine_url, query), _rows(floor_url, query))
        ):
            assert mine == theirs, f"{what} row {number}: engine {mine} != floor {theirs}"
            steps += what == "steps"
    assert steps, "the engine made no steps"
    return steps


def _start_and_run(root: Path, url: str) -> Measured:
    """`sluis start bench` (the deploy; the selection is due from then on) then `sluis run
    --once` (it fires the selection, then runs the batches), measured together (the larger
    peak; the output says each one's time)."""
    env = {"SLUIS_DATABASE_URL": url}
    began = run_measured([*SLUIS, "start", "bench", "--project", str(root)], env=env)
    ran = run_measured([*SLUIS, "run", "--once", "--project", str(root)], env=env)
    parts = f"start {began.seconds:.1f} s, run (firing + batches) {ran.seconds:.1f} s"
    return Measured(
        began.seconds + ran.seconds, began.cpu + ran.cpu, max(began.peak_mb, ran.peak_mb), parts
    )


def _floor(url: str) -> Measured:
    """The floor in a process of its own: its statements' wall and CPU seconds (on
    PostgreSQL the work is the server's), the process's peak."""
    run = _in_child("floor", url)
    timed = json.loads(run.output)
    return Measured(timed["seconds"], timed["cpu"], run.peak_mb, "")


def _replay(
    root: Path, flow: str, customers: Path, until: str, *extra: str, readable: bool = False
) -> Measured:
    """`sluis replay FLOW --json` (the document in ``root/replay-FLOW.json``), or its
    readable summary (``readable``, in ``root/replay-FLOW.txt``)."""
    command = [*SLUIS, "replay", flow, "--project", str(root), "--customers", str(customers)]
    command += ["--start", START, "--until", until, *extra]
    if not readable:
        command.append("--json")
    with (root / f"replay-{flow}.{'txt' if readable else 'json'}").open("w") as out:
        return run_measured(command, stdout=out)


def _replayed(output: Path) -> tuple[int, Counter[tuple[Any, ...]]]:
    """Journeys and steps (object, output, reason) of a replay's JSON, read a journey (one a
    line) at a time."""
    journeys, steps = 0, Counter[tuple[Any, ...]]()
    with output.open() as lines:
        for line in lines:
            if line.startswith('    {"customer"'):
                journey = json.loads(line.rstrip().rstrip(","))
                journeys += 1
                steps.update((s["object"], s["output"], s["reason"]) for s in journey["steps"])
    return journeys, steps


def _step_counts(url: str) -> Counter[tuple[Any, ...]]:
    query = "SELECT object, output, reason, count(*) FROM steps GROUP BY object, output, reason"
    return Counter({tuple(row[:3]): row[3] for row in _rows(url, query)})


@scenario("journeys")
def journeys_at_database_speed(scale: float) -> list[Result]:
    count = max(1000, int(100_000 * scale))
    month = max(1000, int(10_000 * scale))
    results = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        customers = _project(root, count)
        for name in ("SQLite", "PostgreSQL"):
            with _databases(name, root) as (engine_url, floor_url):
                for url in (engine_url, floor_url):
                    _seed(root, url, customers)
                engine = _start_and_run(root, engine_url)
                base = _floor(floor_url)
                steps = _check_same(engine_url, floor_url)
                if name == "SQLite":
                    sqlite_floor, floor_steps = base, _step_counts(floor_url)
            notes = {
                "customers": f"{count:,}",
                "steps": f"{steps:,}",
                "engine": f"{steps / engine.seconds:,.0f} steps/s",
                "cpu_s": f"{engine.cpu:.1f}",
                "parts": engine.output,
            }
            figure = f"start + run --once, {name}"
            results.append(
                Result(figure, "s", engine.seconds, base.seconds, False, "within 3x", notes)
            )
            if name == "SQLite":  # on PostgreSQL the floor's work is the server's CPU
                results.append(
                    Result(f"{figure}, CPU", "s", engine.cpu, base.cpu, False, "within 3x")
                )
            results.append(
                Result(
                    f"peak memory, {figure}", "MB", engine.peak_mb, base.peak_mb, False, "< 300 MB"
                )
            )
        replay = _replay(root, "bench", customers, "1d")
        journeys, replayed = _replayed(root / "replay-bench.json")
        assert journeys == sum(1 for i in range(count) if i % 10 != 9), journeys
        assert replayed == floor_steps, "the replay's steps differ from the floor's"
        notes = {"customers": f"{count:,}", "floor": "SQLite, this run"}
        results += [
            Result(
                "replay --json",
                "s",
                replay.seconds,
                sqlite_floor.seconds,
                False,
                "within 4x",
                notes,
            ),
            Result("replay --json, CPU", "s", replay.cpu, sqlite_floor.cpu, False, "within 4x"),
            Result("peak memory, replay --json", "MB", replay.peak_mb, None, False, "< 300 MB"),
        ]
        table = _replay(root, "bench", customers, "1d", readable=True)
        summary = (root / "replay-bench.txt").read_text()
        assert f"{journeys:,} journeys by path" in summary, summary[-500:]
        results.append(
            Result(
                "replay (readable summary), CPU, beside --json",
                "s",
                table.cpu,
                replay.cpu,
                False,
                "no slower than --json",
            )
        )
        results += _month(root / "month", month)
    return results


def _month(root: Path, count: int) -> list[Result]:
    """``count`` customers over 30 days of waits and mails, a third opening the first mail."""
    customers = _project(root, count)
    events = root / "events.csv"
    with events.open("w") as out:
        out.write("customer,event,at,mail\n")
        for i in range(0, count, 3):
            out.write(f"C{i:07d},open,2026-01-06T09:00:00+00:00,welcome\n")
    replay = _replay(root, "month", customers, "30d", "--events", str(events))
    journeys, steps = _replayed(root / "replay-month.json")
    assert journeys == count and steps[("done", None, "end")] == count, steps
    notes = {
        "customers": f"{count:,}",
        "steps": f"{sum(steps.values()):,}",
        "cpu_s": f"{replay.cpu:.1f}",
    }
    return [
        Result(
            "replay, 30 days of waits and mail", "s", replay.seconds, None, False, "< 5 s", notes
        ),
        Result("replay, 30 days, CPU", "s", replay.cpu, None, False, "< 5 s"),
        Result("peak memory, replay 30 days", "MB", replay.peak_mb, None, False, "< 300 MB"),
    ]
