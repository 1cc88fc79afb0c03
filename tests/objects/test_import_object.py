"""The ``import`` object in a running flow: as a start object (once and on a schedule), with
``continue`` and ``after``, mid-flow, into a collection, failing without writing anything, and
finishing an ``after`` step that a stop interrupted. Virtual clock throughout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.model.flow import load_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.explain import journeys_of
from engine.runtime.runner import Runtime
from engine.sdk.effects import Effects
from engine.store import Database, Store
from engine.store.models import CUSTOMERS, EVENTS, FILES, RECORDS

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = """
timezone: UTC
profile:
  first_name: str
  country: str
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str}
"""
CUSTOMERS_CSV = "external_id,email,first_name\nC1,a@x.nl,Ann\nC2,b@x.nl,Bob\nC3,c@x.nl,Cy\n"


class World:
    """A project with one flow, a store and a runtime on a virtual clock."""

    def __init__(self, project: Project, store: Store, flow: str) -> None:
        self.project = project
        self.store = store
        self.clock = VirtualClock(START)
        self.flow = load_flow(project.flows_dir / f"{flow}.yaml", project)
        self.runtime = Runtime(store, [self.flow], self.clock, Effects(), owner="test")

    def put(self, name: str, text: str) -> Path:
        path = self.project.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def start(self) -> None:
        self.runtime.start(self.flow.name)
        self.settle()

    def settle(self) -> None:
        self.runtime.fire_due()
        self.runtime.run_until_idle()

    def journeys(self) -> list[tuple[str | None, str, str | None, list[tuple[str, Any, str]]]]:
        with self.store.db.read() as conn:
            labels = {r.system_id: r.external_id for r in conn.execute(select(CUSTOMERS))}
            views = journeys_of(conn, flow=self.flow.name)
        return sorted(
            (
                labels.get(v.customer_id),
                v.state,
                v.at,
                [(s.object, s.output, s.reason) for s in v.steps],
            )
            for v in views
        )

    def data(self) -> dict[str | None, dict[str, Any]]:
        with self.store.db.read() as conn:
            labels = {r.system_id: r.external_id for r in conn.execute(select(CUSTOMERS))}
            return {
                labels.get(v.customer_id): v.data for v in journeys_of(conn, flow=self.flow.name)
            }

    def customers(self) -> list[str]:
        with self.store.db.read() as conn:
            table = CUSTOMERS
            return list(
                conn.execute(select(table.c.external_id).order_by(table.c.system_id)).scalars()
            )

    def failures(self) -> list[str]:
        with self.store.db.read() as conn:
            table = EVENTS
            rows = conn.execute(select(table).where(table.c.kind == "failed").order_by(table.c.id))
            return [r.data["reason"] for r in rows]


@pytest.fixture
def world(
    make_project: Callable[..., Project], tmp_path: Path
) -> Iterator[Callable[[str, str], World]]:
    made: list[Store] = []

    def make(name: str, flow: str) -> World:
        project = make_project(SETTINGS, flows={name: flow})
        store = Store(Database(f"sqlite:///{tmp_path / 'w.db'}"), project)
        made.append(store)
        return World(project, store, name)

    yield make
    for store in made:
        store.db.dispose()


NIGHTLY = """
name: nightly
objects:
  load:
    type: import
    from: "in/customers_{{ today|date('%Y%m%d') }}.csv"
    after: {move: archive/}
    next: done
  done:
    type: end
"""


def test_a_start_import_enters_new_and_changed_customers_then_moves_the_file(
    world: Callable[[str, str], World],
) -> None:
    w = world("nightly", NIGHTLY)
    w.put("in/customers_20260105.csv", CUSTOMERS_CSV)
    w.start()
    assert w.customers() == ["C1", "C2", "C3"]
    assert w.journeys() == [
        (c, "finished", None, [("load", "out", "imported: new"), ("done", None, "end")])
        for c in ("C1", "C2", "C3")
    ]
    assert w.data()["C1"] == {
        "import_status": "new",
        "file": "in/customers_20260105.csv",
        "row": {"external_id": "C1", "email": "a@x.nl", "first_name": "Ann"},
    }
    assert not (w.project.root / "in" / "customers_20260105.csv").exists()
    assert (w.project.root / "archive" / "customers_20260105.csv").read_text() == CUSTOMERS_CSV
    with w.store.db.read() as conn:
        assert list(conn.execute(select(FILES))) == []


SCHEDULED = """
name: daily
reentry: always
objects:
  load:
    type: import
    from: in/customers.csv
    schedule: "0 6 * * *"
    continue: [changed, unchanged]
"""


def test_a_scheduled_import_with_continue(world: Callable[[str, str], World]) -> None:
    w = world("daily", SCHEDULED)
    w.put("in/customers.csv", CUSTOMERS_CSV)
    w.start()
    assert w.journeys() == []  # not 06:00 yet
    w.clock.set(datetime(2026, 1, 6, 6, 0, tzinfo=UTC))
    w.settle()
    assert w.customers() == ["C1", "C2", "C3"]
    assert w.journeys() == []  # all new; only changed and unchanged continue
    w.put("in/customers.csv", CUSTOMERS_CSV.replace("Bob", "Robert"))
    w.clock.set(datetime(2026, 1, 7, 6, 0, tzinfo=UTC))
    w.settle()
    assert [(c, steps) for c, _, _, steps in w.journeys()] == [
        ("C1", [("load", "out", "imported: unchanged")]),
        ("C2", [("load", "out", "imported: changed")]),
        ("C3", [("load", "out", "imported: unchanged")]),
    ]


def test_an_unreadable_file_writes_nothing_and_fails_the_start(
    world: Callable[[str, str], World],
) -> None:
    w = world("nightly", NIGHTLY)
    w.put("in/customers_20260105.csv", "email,first_name\na@x.nl,Ann\n")
    w.start()
    assert w.customers() == [] and w.journeys() == []
    assert w.failures() == [
        "failed: in/customers_20260105.csv: no column for the key field 'external_id'; the "
        "header has email, first_name (read with delimiter comma; set delimiter: when that is "
        "wrong)"
    ]
    assert (w.project.root / "in" / "customers_20260105.csv").exists()  # not moved
    assert w.runtime.next_due() is None  # a once-import does not try again and again


def test_a_missing_file_fails_the_start(world: Callable[[str, str], World]) -> None:
    w = world("nightly", NIGHTLY)
    w.start()
    assert w.failures() == [
        "failed: in/customers_20260105.csv: no such file to import; check from: and the folder"
    ]


def test_too_many_rejects_write_nothing_but_the_rejects_file(
    world: Callable[[str, str], World],
) -> None:
    flow = NIGHTLY.replace("after: {move: archive/}", "max_rejects: 1\n    after: delete")
    w = world("nightly", flow)
    w.put(
        "in/customers_20260105.csv", CUSTOMERS_CSV.replace("a@x.nl", "nope").replace("c@x.nl", "x")
    )
    w.start()
    assert w.customers() == []
    assert "more than 1 row(s) rejected" in w.failures()[0]
    rejects = (w.project.root / "in" / "customers_20260105.rejects.csv").read_text()
    assert rejects.splitlines()[1].startswith("2,email,field 'email': 'nope' is not an e-mail")
    assert (w.project.root / "in" / "customers_20260105.csv").exists()


def test_rejects_within_the_limit_are_written_and_the_file_deleted(
    world: Callable[[str, str], World],
) -> None:
    flow = NIGHTLY.replace("after: {move: archive/}", "max_rejects: 1\n    after: delete")
    w = world("nightly", flow)
    w.put("in/customers_20260105.csv", CUSTOMERS_CSV.replace("a@x.nl", "nope"))
    w.start()
    assert w.customers() == ["C2", "C3"]
    assert not (w.project.root / "in" / "customers_20260105.csv").exists()
    assert (w.project.root / "in" / "customers_20260105.rejects.csv").exists()


def test_an_after_step_a_stop_interrupted_is_done_without_importing_again(
    world: Callable[[str, str], World],
) -> None:
    flow = SCHEDULED.replace(
        "continue: [changed, unchanged]",
        "continue: [new, changed, unchanged]\n    after: {move: archive/}",
    )
    w = world("daily", flow)
    w.put("in/customers.csv", CUSTOMERS_CSV)
    w.put("archive", "a file where the folder should be\n")  # the move fails
    w.start()
    w.clock.set(datetime(2026, 1, 6, 6, 0, tzinfo=UTC))
    w.settle()
    assert w.customers() == ["C1", "C2", "C3"] and len(w.journeys()) == 3
    assert (w.project.root / "in" / "customers.csv").exists()
    (w.project.root / "archive").unlink()
    (w.project.root / "archive").mkdir()
    w.clock.set(datetime(2026, 1, 7, 6, 0, tzinfo=UTC))
    w.settle()
    assert len(w.journeys()) == 3  # not imported again
    assert (w.project.root / "archive" / "customers.csv").exists()
    assert not (w.project.root / "in" / "customers.csv").exists()


MIDFLOW = """
name: enrich
objects:
  trigger:
    type: selection
    where: customer.external_id == "T1"
    next: load
  load:
    type: import
    from: in/enriched.csv
    next: tagged
  tagged:
    type: group
    add: [enriched]
"""


def test_mid_flow_the_imported_customers_go_on(world: Callable[[str, str], World]) -> None:
    w = world("enrich", MIDFLOW)
    w.put("in/t.csv", "external_id\nT1\n")
    with w.store.db.write() as conn:
        from engine.files.customers_csv import load_customers_csv

        load_customers_csv(conn, w.project.root / "in" / "t.csv", w.project, START)
    w.put("in/enriched.csv", CUSTOMERS_CSV + "T1,t@x.nl,Tee\n")
    w.start()
    journeys = w.journeys()
    assert journeys[-1] == (
        "T1",
        "finished",
        None,
        [
            ("trigger", "out", "selected"),
            (
                "load",
                None,
                "started the import of in/enriched.csv; the imported customers go on",
            ),
        ],
    )
    assert journeys[:3] == [
        (
            c,
            "finished",
            None,
            [("load", "out", "imported: new"), ("tagged", "out", "added to enriched")],
        )
        for c in ("C1", "C2", "C3")
    ]
    # T1 was changed by the import and entered again once its first journey had ended
    assert journeys[3][0] == "T1" and journeys[3][3][0] == ("load", "out", "imported: changed")


def test_mid_flow_a_failing_import_fails_the_arriving_journeys(
    world: Callable[[str, str], World],
) -> None:
    w = world("enrich", MIDFLOW)
    w.put("in/t.csv", "external_id\nT1\n")
    with w.store.db.write() as conn:
        from engine.files.customers_csv import load_customers_csv

        load_customers_csv(conn, w.project.root / "in" / "t.csv", w.project, START)
    w.put("in/enriched.csv", 'external_id,first_name\nC1,Ann\nC2,"open\n')
    w.start()
    assert w.customers() == ["T1"]
    [(customer, state, _, steps)] = w.journeys()
    assert (customer, state) == ("T1", "failed")
    assert steps[-1][0] == "load" and steps[-1][1] is None
    assert "failed: in/enriched.csv: the quoted value that starts on line 3" in steps[-1][2]


COLLECTION = """
name: orders
reentry: always
objects:
  load:
    type: import
    from: in/orders.csv
    into: orders
    columns: {Order: order_id, Customer: customer.external_id, Total: total, Status: status}
"""


def test_a_collection_import_enters_the_linked_customers(
    world: Callable[[str, str], World],
) -> None:
    w = world("orders", COLLECTION)
    w.put("in/c.csv", CUSTOMERS_CSV)
    with w.store.db.write() as conn:
        from engine.files.customers_csv import load_customers_csv

        load_customers_csv(conn, w.project.root / "in" / "c.csv", w.project, START)
    w.put(
        "in/orders.csv", "Order;Customer;Total;Status\nO1;C1;9.95;paid\nO2;C1;5;open\nO3;;1;open\n"
    )
    w.start()
    assert [(c, steps[0][2]) for c, _, _, steps in w.journeys()] == [
        ("C1", "imported: new"),
        ("C1", "imported: new"),
    ]
    with w.store.db.read() as conn:
        assert len(list(conn.execute(select(RECORDS)))) == 3


def test_validation_names_a_wrong_collection_and_field(
    make_project: Callable[..., Project],
) -> None:
    from engine.errors import FlowError

    flow = COLLECTION.replace("into: orders", "into: order").replace("Total: total", "Total: totl")
    project = make_project(SETTINGS, flows={"orders": flow})
    with pytest.raises(
        FlowError, match="no collection 'order' in the datamodel; did you mean 'orders'"
    ):
        load_flow(project.flows_dir / "orders.yaml", project)
    project = make_project(
        SETTINGS, flows={"orders": COLLECTION.replace("Total: total", "Total: totl")}, folder="p2"
    )
    with pytest.raises(
        FlowError, match="maps 'Total' to 'totl', which is not a field of collection"
    ):
        load_flow(project.flows_dir / "orders.yaml", project)


def test_replay_reads_the_import_but_leaves_the_project_alone(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    from engine.runtime.replay import Replay

    project = make_project(SETTINGS, flows={"nightly": NIGHTLY})
    (project.root / "in").mkdir()
    (project.root / "in" / "customers_20260105.csv").write_text(CUSTOMERS_CSV)
    (tmp_path / "none.csv").write_text("external_id\n")
    flow = load_flow(project.flows_dir / "nightly.yaml", project)
    session = Replay(project, flow, tmp_path / "none.csv", start=START, until=timedelta(days=1))
    try:
        session.run()
        document = session.document()
    finally:
        session.close()
    assert [j["customer"] for j in document["journeys"]] == ["C1", "C2", "C3"]
    assert (project.root / "in" / "customers_20260105.csv").exists()
    assert not (project.root / "archive").exists()


def test_an_unreachable_sftp_source_fires_again_after_the_backoff(
    make_project: Callable[..., Project], tmp_path: Path, sftp: Any
) -> None:
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = sftp.connection().replace(f"port: {sftp.port}", f"port: {port}")
    flow = NIGHTLY.replace('from: "in/', 'from: "sftp://crm/in/')
    project = make_project("timezone: UTC\nconnections:\n" + connection, flows={"nightly": flow})
    store = Store(Database(f"sqlite:///{tmp_path / 'u.db'}"), project)
    world = World(project, store, "nightly")
    world.start()
    while (due := world.runtime.next_due()) is not None:
        world.clock.set(due)
        world.runtime.fire_due()
    failures = world.failures()
    assert len(failures) == 4  # the first try and 3 retries, 10s, 20s and 40s apart
    assert world.clock.now() - START == timedelta(seconds=70)
    assert "cannot reach SFTP server" in failures[0]
    assert failures[-1].endswith("after 4 tries over 1m10s")
    from engine.runtime.failures import failures_since  # what run --once reports (exit 1)

    summary = failures_since(store, [world.flow], START)
    assert [line.split(":")[0] for line in summary.lines] == [
        "start object load of flow nightly failed 3 times",
        "start object load of flow nightly failed",
    ]
    assert summary.lines[1].endswith("after 4 tries over 1m10s")
    assert summary and summary.flows == []  # a start object fires again on its schedule
    store.db.dispose()
