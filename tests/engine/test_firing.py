"""Selection firings enter their segment in the database (``INSERT ... SELECT``): the same
journeys, first steps, ids, versions and later batches as entering the selected customers one
by one (``entering.enter``, the path webhooks and starts by hand take), under every reentry
rule, with customers already inside, and so do customers started by hand (``sluis start
--where/--group``); a firing that breaks half-way leaves nothing behind. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from engine.errors import DatabaseError
from engine.model.expressions import Expression
from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.entering import HAND_REASON
from engine.runtime.runner import Runtime
from engine.sdk import Entry, RunContext
from engine.sdk.segments import Segment
from engine.store import Database, Store
from engine.store.customers import add_to_groups, upsert_customers
from engine.store.models import TABLES
from objects.selection import Selection

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = "timezone: UTC\nprofile: {country: str, newsletter: bool, segment: str}\n"
FLOW = """
reentry: %(reentry)s
objects:
  sel:
    type: selection
    where: customer.newsletter == true
    schedule: "0 * * * *"
    next: by-country
  by-country:
    type: split
    branches: {dutch: customer.country == "NL"}
    next: {dutch: score, otherwise: hold}
  hold: {type: wait, for: 1d, next: score}
  score: {type: update, set: {segment: "{{ customer.country|lower }}-seen"}, next: tag}
  tag: {type: group, add: [seen], next: done}
  done: {type: end}
"""
COUNTRIES = ("NL", "BE", None, "DE")
NEWSLETTER = (True, True, False, None, True)


def _one_by_one(self: Selection, *, ctx: RunContext) -> Iterator[Entry]:
    """How a selection entered before: its customers read, then entered Entry by Entry."""
    for ids in ctx.customers.matching(self.settings.where, group=self.settings.group):
        yield from (Entry(system_id) for system_id in ids)


def _customers(count: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"C{i:03d}",
            "country": COUNTRIES[i % len(COUNTRIES)],
            "newsletter": NEWSLETTER[i % len(NEWSLETTER)],
        }
        for i in range(count)
    ]


def _snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order."""
    with store.db.read() as conn:
        return {
            table.name: [
                tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))
            ]
            for table in TABLES.sorted_tables
        }


@pytest.fixture
def empty_url(db_url: str, tmp_path: Any) -> Callable[[str], str]:
    """The URL of an empty database of the parametrised kind for each name: a new SQLite
    file, or the session's PostgreSQL database emptied again."""

    def make(name: str) -> str:
        if db_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'{name}.db'}"
        database = Database(db_url)
        database.create_schema()
        with database.engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in TABLES.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        database.dispose()
        return db_url

    return make


def _started(project: Project, url: str, inside: list[int]) -> tuple[Store, VirtualClock, Runtime]:
    """60 customers (every fourth in the group vip), the flow started (its selection not
    fired), the customers of ``inside`` entered by hand and their batches run."""
    store = Store(Database(url), project)
    store.db.create_schema()
    clock = VirtualClock(START)
    runtime = Runtime(store, [find_flow(project, "f")], clock, owner="w")
    with store.db.write() as conn:
        upsert_customers(conn, _customers(60), key="external_id", project=project, now=START)
        add_to_groups(conn, list(range(1, 60, 4)), ["vip"], START)
    runtime.start("f", fire=False)
    runtime.enter("f", "sel", [Entry(i) for i in inside])
    runtime.run_until_idle()
    return store, clock, runtime


def _play(project: Project, url: str, inside: list[int]) -> dict[str, list[tuple[Any, ...]]]:
    """Two firings an hour apart, with the customers of ``inside`` entered by hand first (the
    BE ones wait at ``hold``, the others finish), then every batch run a day on."""
    store, clock, runtime = _started(project, url, inside)
    for _ in range(2):
        runtime.fire_due()
        runtime.run_until_idle()
        clock.advance(timedelta(hours=1))
    clock.advance(timedelta(days=1))
    runtime.fire_due()
    runtime.run_until_idle()
    snapshot = _snapshot(store)
    store.db.dispose()
    return snapshot


@pytest.mark.parametrize("reentry", ["never", "after-exit", "always"])
def test_a_firing_enters_as_the_customers_entered_one_by_one(
    reentry: str,
    make_project: Callable[..., Project],
    empty_url: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = make_project(SETTINGS, {"f": FLOW % {"reentry": reentry}})
    inside = [2, 5, 6, 9, 14, 17]  # system ids: some BE (waiting), NL and DE (finished)
    in_database = _play(project, empty_url("segment"), inside)
    with monkeypatch.context() as patch:
        patch.setattr(Selection, "segment", lambda self: None)
        patch.setattr(Selection, "entries", _one_by_one)
        one_by_one = _play(project, empty_url("one-by-one"), inside)
    per_customer = Counter(row[2] for row in in_database["journeys"])
    assert len(per_customer) == 38  # 36 with the newsletter, and two entered by hand
    assert max(per_customer.values()) == (1 if reentry == "never" else 4)  # hand, 3 firings
    for name, rows in one_by_one.items():
        assert in_database[name] == rows, f"table {name} differs"


def test_a_selection_without_next_ends_its_journeys_where_they_entered(
    make_project: Callable[..., Project],
    empty_url: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow = "objects:\n  sel: {type: selection, group: vip}\n"
    project = make_project(SETTINGS, {"f": flow})

    def play(url: str) -> dict[str, list[tuple[Any, ...]]]:
        store = Store(Database(url), project)
        store.db.create_schema()
        runtime = Runtime(store, [find_flow(project, "f")], VirtualClock(START))
        with store.db.write() as conn:
            made = upsert_customers(
                conn, _customers(9), key="external_id", project=project, now=START
            )
            add_to_groups(conn, [sid for sid, _ in made][::3], ["vip"], START)
        runtime.start("f")
        runtime.fire_due()
        runtime.run_until_idle()
        snapshot = _snapshot(store)
        store.db.dispose()
        return snapshot

    in_database = play(empty_url("segment"))
    with monkeypatch.context() as patch:
        patch.setattr(Selection, "segment", lambda self: None)
        patch.setattr(Selection, "entries", _one_by_one)
        one_by_one = play(empty_url("one-by-one"))
    assert [(row[3], row[4]) for row in in_database["journeys"]] == [("sel", "finished")] * 3
    assert in_database == one_by_one


BREAK_STEPS = {
    "sqlite": [
        "CREATE TRIGGER broken BEFORE INSERT ON steps WHEN NEW.journey_id > 20 "
        "BEGIN SELECT RAISE(ABORT, 'the disk is gone'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION broken() RETURNS trigger AS $$ BEGIN IF NEW.journey_id > 20 THEN "
        "RAISE EXCEPTION 'the disk is gone'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER broken BEFORE INSERT ON steps FOR EACH ROW EXECUTE FUNCTION broken()",
    ],
}
MEND_STEPS = {
    "sqlite": ["DROP TRIGGER broken"],
    "postgresql": ["DROP TRIGGER broken ON steps", "DROP FUNCTION broken()"],
}


def test_a_firing_that_breaks_half_way_leaves_nothing_entered(
    make_project: Callable[..., Project], empty_url: Callable[[str], str]
) -> None:
    project = make_project(SETTINGS, {"f": FLOW % {"reentry": "after-exit"}})
    store = Store(Database(empty_url("broken")), project)
    store.db.create_schema()
    runtime = Runtime(store, [find_flow(project, "f")], VirtualClock(START))
    with store.db.write() as conn:
        upsert_customers(conn, _customers(60), key="external_id", project=project, now=START)
    runtime.start("f")
    kind = store.db.engine.dialect.name

    def run(statements: list[str]) -> None:
        with store.db.write() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def count(table: str) -> int:
        with store.db.read() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())

    # the database fails while the first steps are written: journeys 1-20 have theirs
    run(BREAK_STEPS[kind])
    try:
        with pytest.raises(DatabaseError, match="the disk is gone"):
            runtime.fire_due()
    finally:
        run(MEND_STEPS[kind])
    assert (count("journeys"), count("steps"), count("events")) == (0, 0, 0)
    assert runtime.next_due() == START  # still due: the worker fires it again
    assert runtime.fire_due() == 36
    assert (count("journeys"), count("steps")) == (36, 36)
    store.db.dispose()


def _by_hand(project: Project, url: str, enter: Callable[[Runtime, Segment], int]) -> Any:
    """Customers started by hand (``sluis start --where/--group``) three times, with
    customers inside from a start before: the snapshot and how many entered each time."""
    store, clock, runtime = _started(project, url, [2, 5, 6, 9, 14, 17])
    where = Expression.parse('customer.country == "BE" or customer.newsletter == false')
    entered = []
    for segment in (Segment(where), Segment(None, "vip"), Segment(where, "vip")):
        entered.append(enter(runtime, segment))
        runtime.run_until_idle()
        clock.advance(timedelta(days=2))
        runtime.run_until_idle()
    snapshot = _snapshot(store)
    store.db.dispose()
    return snapshot, entered


@pytest.mark.parametrize("reentry", ["never", "after-exit", "always"])
def test_a_start_by_hand_enters_as_its_customers_entered_one_by_one(
    reentry: str, make_project: Callable[..., Project], empty_url: Callable[[str], str]
) -> None:
    project = make_project(SETTINGS, {"f": FLOW % {"reentry": reentry}})
    chosen: list[int] = []

    def in_database(runtime: Runtime, segment: Segment) -> int:
        entered, of = runtime.enter_chosen("f", "sel", segment)
        chosen.append(of)
        return entered

    def one_by_one(runtime: Runtime, segment: Segment) -> int:
        ctx = runtime.context(runtime.flows["f"], "sel")
        ids = [
            i for part in ctx.customers.matching(segment.where, group=segment.group) for i in part
        ]
        return len(runtime.enter("f", "sel", [Entry(i, {}, HAND_REASON) for i in ids]))

    made, entered = _by_hand(project, empty_url("hand"), in_database)
    expected, entered_one_by_one = _by_hand(project, empty_url("one-by-one"), one_by_one)
    assert entered == entered_one_by_one
    assert chosen == [24, 15, 3]
    assert (entered == chosen) == (reentry == "always")  # some were or are still inside
    for name, rows in expected.items():
        assert made[name] == rows, f"table {name} differs"
