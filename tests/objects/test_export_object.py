"""The ``export`` object: one CSV per batch (bucket -> export), chosen columns, never
overwriting, one file per batch even when the batch runs again, ``exported`` events, SFTP, and
replay's ``effects.exports`` written under a temporary folder only."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sftpd import SftpServer
from sqlalchemy import select

from engine.errors import FlowError
from engine.files.customers_csv import load_customers_csv
from engine.model.flow import Flow, load_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.replay import Replay
from engine.runtime.runner import Runtime
from engine.sdk.batch import Batch, Journey, Routing
from engine.sdk.context import RunContext
from engine.sdk.effects import Effects
from engine.store import Database, Store
from engine.store.models import EVENTS, STEPS

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = """
timezone: UTC
profile: {first_name: str, country: str, newsletter: bool}
connections:
  crm: {type: folder, path: crm}
"""
FLOW = """
name: weekly
objects:
  buyers:
    type: selection
    where: customer.newsletter == true
    next: group-of-two
  group-of-two:
    type: bucket
    size: 2
    every: 1h
    next: export
  export:
    type: export
    to: "exports/buyers_{{ today|date('%Y%m%d') }}.csv"
    columns:
      - external_id
      - email
      - {header: Country, value: "{{ customer.country|upper }}"}
      - groups
    delimiter: ";"
"""
CUSTOMERS = (
    "external_id,email,first_name,country,newsletter\n"
    "C1,a@x.nl,Ann,nl,true\n"
    "C2,b@x.nl,Bob,be,true\n"
    "C3,c@x.nl,Cy,nl,true\n"
    "C4,d@x.nl,Di,nl,false\n"
)


@pytest.fixture
def project(make_project: Callable[..., Project], tmp_path: Path) -> Project:
    made = make_project(SETTINGS, flows={"weekly": FLOW})
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    return made


@pytest.fixture
def store(project: Project, tmp_path: Path) -> Iterator[Store]:
    made = Store(Database(f"sqlite:///{tmp_path / 'x.db'}"), project)
    with made.db.write() as conn:
        load_customers_csv(conn, tmp_path / "customers.csv", project, START)
    yield made
    made.db.dispose()


def run_flow(project: Project, store: Store, flow: Flow) -> VirtualClock:
    clock = VirtualClock(START)
    runtime = Runtime(store, [flow], clock, Effects(), owner="t")
    runtime.start(flow.name)
    while True:
        runtime.fire_due()
        runtime.run_until_idle()
        due = runtime.next_due()
        if due is None:
            return clock
        clock.set(due)


def read(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def test_one_file_per_batch_with_the_chosen_columns(project: Project, store: Store) -> None:
    (project.root / "exports").mkdir()
    (project.root / "exports" / "buyers_20260105.csv").write_text("someone else's\n")
    flow = load_flow(project.flows_dir / "weekly.yaml", project)
    run_flow(project, store, flow)
    exports = project.root / "exports"
    assert sorted(p.name for p in exports.iterdir()) == [
        "buyers_20260105-2.csv",
        "buyers_20260105-3.csv",
        "buyers_20260105.csv",
    ]
    assert (exports / "buyers_20260105.csv").read_text() == "someone else's\n"
    assert read(exports / "buyers_20260105-2.csv") == [
        ["external_id", "email", "Country", "groups"],
        ["C1", "a@x.nl", "NL", ""],
        ["C2", "b@x.nl", "BE", ""],
    ]
    assert read(exports / "buyers_20260105-3.csv")[1:] == [["C3", "c@x.nl", "NL", ""]]
    with store.db.read() as conn:
        table = EVENTS
        events = list(conn.execute(select(table).where(table.c.kind == "exported")))
    assert sorted((e.customer_id, e.data["path"]) for e in events) == [
        (1, "exports/buyers_20260105-2.csv"),
        (2, "exports/buyers_20260105-2.csv"),
        (3, "exports/buyers_20260105-3.csv"),
    ]


def test_a_batch_that_runs_again_does_not_write_a_second_file(
    project: Project, store: Store
) -> None:
    flow = load_flow(project.flows_dir / "weekly.yaml", project)
    customers = store.customers([1, 2])
    batch = Batch(
        "weekly",
        "export",
        "weekly.export.7",
        [Journey(i, customers[i], {}, START, START, "buyers") for i in (1, 2)],
    )
    runs = []
    for _ in range(2):  # the first run's routing never committed: the engine stopped
        ctx = RunContext(START, project, flow, "export", store, Effects())
        routing = Routing()
        flow.instance("export").run(batch=batch, routing=routing, ctx=ctx)
        runs.append({d.reason for d in routing.decisions.values()})  # type: ignore[union-attr]
    assert runs == [{"exported to exports/buyers_20260105.csv"}] * 2
    assert [p.name for p in (project.root / "exports").iterdir()] == ["buyers_20260105.csv"]


def test_unknown_columns_are_a_validation_error(make_project: Callable[..., Project]) -> None:
    flow = FLOW.replace("      - email\n", "      - emial\n")
    project = make_project(SETTINGS, flows={"weekly": flow})
    with pytest.raises(FlowError, match="column 'emial' is not a customer field; did you mean"):
        load_flow(project.flows_dir / "weekly.yaml", project)


def test_export_to_a_real_sftp_server(
    make_project: Callable[..., Project], tmp_path: Path, sftp: SftpServer
) -> None:
    settings = SETTINGS.replace("  crm: {type: folder, path: crm}\n", sftp.connection())
    flow = FLOW.replace('"exports/buyers_', '"sftp://crm/exports/buyers_').replace(
        "size: 2", "size: 3"
    )
    project = make_project(settings, flows={"weekly": flow})
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    made = Store(Database(f"sqlite:///{tmp_path / 's.db'}"), project)
    with made.db.write() as conn:
        load_customers_csv(conn, tmp_path / "customers.csv", project, START)
    run_flow(project, made, load_flow(project.flows_dir / "weekly.yaml", project))
    made.db.dispose()
    assert read(sftp.files / "exports" / "buyers_20260105.csv")[1:] == [
        ["C1", "a@x.nl", "NL", ""],
        ["C2", "b@x.nl", "BE", ""],
        ["C3", "c@x.nl", "NL", ""],
    ]
    assert [p.name for p in (sftp.files / "exports").iterdir()] == ["buyers_20260105.csv"]


def test_replay_lists_the_exports_and_writes_only_under_its_folder(
    project: Project, tmp_path: Path
) -> None:
    flow = load_flow(project.flows_dir / "weekly.yaml", project)
    session = Replay(
        project, flow, tmp_path / "customers.csv", start=START, until=timedelta(days=1)
    )
    try:
        session.run()
        document = session.document()
        written = sorted(p.name for p in session.folder.rglob("*.csv"))
    finally:
        session.close()
    assert document["effects"]["exports"] == [
        {
            "object": "export",
            "path": "exports/buyers_20260105.csv",
            "rows": 2,
            "customers": ["C1", "C2"],
            "at": "2026-01-05T09:00:00+00:00",
        },
        {
            "object": "export",
            "path": "exports/buyers_20260105-2.csv",
            "rows": 1,
            "customers": ["C3"],
            "at": "2026-01-05T10:00:00+00:00",
        },
    ]
    assert written == ["buyers_20260105-2.csv", "buyers_20260105.csv"]
    assert not (project.root / "exports").exists()
    json.dumps(document)  # the contract's document stays JSON


def test_an_sftp_server_that_cannot_be_reached_is_tried_again_then_fails(
    make_project: Callable[..., Project], tmp_path: Path, sftp: SftpServer
) -> None:
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = sftp.connection().replace(f"port: {sftp.port}", f"port: {port}")
    settings = SETTINGS.replace("  crm: {type: folder, path: crm}\n", connection)
    flow = FLOW.replace('"exports/buyers_', '"sftp://crm/exports/buyers_').replace(
        "size: 2", "size: 3"
    )
    project = make_project(settings, flows={"weekly": flow})
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    made = Store(Database(f"sqlite:///{tmp_path / 's.db'}"), project)
    with made.db.write() as conn:
        load_customers_csv(conn, tmp_path / "customers.csv", project, START)
    clock = run_flow(project, made, load_flow(project.flows_dir / "weekly.yaml", project))
    with made.db.read() as conn:
        reasons = {s.reason for s in conn.execute(select(STEPS)) if s.object == "export"}
    made.db.dispose()
    assert clock.now() - START == timedelta(seconds=10 + 20 + 40)  # backoff 10s, doubling
    [reason] = reasons
    assert reason.startswith(f"failed: connection 'crm': cannot reach SFTP server 127.0.0.1:{port}")
    assert reason.endswith("after 4 tries over 1m10s")


def test_where_keeps_the_rows_of_the_batch_customers_it_holds_for(
    make_project: Callable[..., Project], tmp_path: Path, store_for: Callable[[Project], Store]
) -> None:
    flow = FLOW.replace(
        '    delimiter: ";"\n', '    delimiter: ";"\n    where: customer.country == "nl"\n'
    )
    project = make_project(SETTINGS, flows={"weekly": flow})
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    store = store_for(project)
    with store.db.write() as conn:
        load_customers_csv(conn, tmp_path / "customers.csv", project, START)
    run_flow(project, store, load_flow(project.flows_dir / "weekly.yaml", project))
    exports = project.root / "exports"
    rows = sorted(row for f in exports.iterdir() for row in read(f)[1:])
    assert rows == [["C1", "a@x.nl", "NL", ""], ["C3", "c@x.nl", "NL", ""]]
    with store.db.read() as conn:
        table = EVENTS
        exported = conn.execute(select(table.c.customer_id).where(table.c.kind == "exported"))
        assert sorted(exported.scalars()) == [1, 3]  # C2 (be) is not exported
        steps = STEPS
        left = conn.execute(select(steps.c.output).where(steps.c.object == "export"))
        assert list(left.scalars()) == ["out"] * 3  # and leaves by out all the same


def test_a_where_that_cannot_run_in_the_database_is_a_validation_error(
    make_project: Callable[..., Project],
) -> None:
    flow = FLOW.replace(
        '    delimiter: ";"\n', '    delimiter: ";"\n    where: customer.country < 3\n'
    )
    project = make_project(SETTINGS, flows={"weekly": flow})
    with pytest.raises(
        FlowError, match="cannot run in the database: cannot compare text with number"
    ):
        load_flow(project.flows_dir / "weekly.yaml", project)
