"""Flow versions and deploys (DESIGN section 5): what runs is what was started; an edit that
strands journeys is planned, refused, moved or drained; on SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from deploying import V1, version_2
from sqlalchemy import select

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.deploys import DeployRefused, running_flows
from engine.runtime.explain import journeys_of
from engine.runtime.runner import Runtime
from engine.sdk.batch import Entry
from engine.store import Store, versions
from engine.store.customers import upsert_customers
from engine.store.models import FLOW_VERSIONS

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
V2 = version_2("1d")
MOVED = "moved: {wait-nl: wait-all}\n" + V2


class Setup:
    def __init__(
        self, make_project: Callable[..., Project], store_for: Callable[[Project], Store]
    ) -> None:
        self.project = make_project("timezone: UTC\n", {"hold": V1})
        self.store = store_for(self.project)
        self.clock = VirtualClock(START)
        self.runtime = self.fresh()
        with self.store.db.write() as conn:
            rows = [{"external_id": f"C{i}"} for i in range(3)]
            upsert_customers(conn, rows, key="external_id", project=self.project, now=START)
        self.runtime.start("hold")  # the selection enters the three customers
        self.runtime.fire_due()
        self.runtime.run_until_idle()

    def fresh(self) -> Runtime:
        """A runtime as the commands make it: the deployed versions, else the files."""
        files = [find_flow(self.project, "hold")]
        return Runtime(self.store, running_flows(self.store, files), self.clock, owner="w")

    def edit(self, text: str) -> None:
        (self.project.root / "flows" / "hold.yaml").write_text(textwrap.dedent(text))
        self.runtime.adopt(find_flow(self.project, "hold"))

    def where(self) -> list[tuple[str, int, str, str | None]]:
        with self.store.db.read() as conn:
            views = journeys_of(conn, None, "hold")
        return sorted((v.state, v.version, v.steps[-1].object, v.at) for v in views)


@pytest.fixture
def setup(make_project: Callable[..., Project], store_for: Callable[[Project], Store]) -> Setup:
    return Setup(make_project, store_for)


def test_a_start_stores_a_version_and_the_runtime_runs_it_not_the_file(setup: Setup) -> None:
    with setup.store.db.read() as conn:
        stored = versions.version(conn, "hold", 1)
        assert versions.running_version(conn, "hold") == 1
    assert stored is not None and stored.yaml == V1
    assert stored.hash == versions.content_hash(V1)
    assert setup.where() == [("waiting", 1, "everyone", "wait-nl")] * 3
    # the file is edited but not started: a new runtime still runs version 1
    (setup.project.root / "flows" / "hold.yaml").write_text(V2)
    again = setup.fresh()
    assert again.flows["hold"].version == 1
    assert "wait-nl" in again.flows["hold"].objects
    # starting the same text again stores nothing
    setup.runtime.start("hold")
    with setup.store.db.read() as conn:
        assert len(list(conn.execute(select(FLOW_VERSIONS)))) == 1


def test_an_edit_that_strands_journeys_is_planned_and_refused(setup: Setup) -> None:
    setup.edit(V2)
    plan = setup.runtime.plan(setup.runtime.flows["hold"])
    assert plan.running == 1 and plan.changed_file
    assert plan.added == ["wait-all"]
    assert [(r.object, r.waiting, r.goes_to) for r in plan.removed] == [("wait-nl", 3, None)]
    assert plan.rerouted == [("everyone", "out", "wait-nl", "wait-all")]
    assert not plan.safe
    with pytest.raises(DeployRefused) as refused:
        setup.runtime.start("hold")
    message = str(refused.value)
    assert "3 at 'wait-nl'" in message
    assert "moved: {wait-nl: NEW_ID}" in message and "sluis start hold --drain" in message
    # nothing was written: still version 1, the journeys where they were
    with setup.store.db.read() as conn:
        assert versions.running_version(conn, "hold") == 1
    assert {(v, at) for _, v, _, at in setup.where()} == {(1, "wait-nl")}


def test_moved_sends_stranded_journeys_to_the_new_object(setup: Setup) -> None:
    setup.edit(MOVED)
    plan = setup.runtime.plan(setup.runtime.flows["hold"])
    assert plan.safe and [(r.object, r.goes_to) for r in plan.removed] == [("wait-nl", "wait-all")]
    setup.runtime.start("hold")
    assert setup.where() == [("waiting", 2, "wait-nl", "wait-all")] * 3
    setup.clock.advance(timedelta(days=1, minutes=1))
    setup.runtime.run_until_idle()  # wait-all holds them a day, then they finish
    setup.clock.advance(timedelta(days=1, minutes=1))
    setup.runtime.run_until_idle()
    assert setup.where() == [("finished", 2, "done", None)] * 3


def test_drain_runs_two_versions_side_by_side_until_the_old_one_is_empty(setup: Setup) -> None:
    setup.edit(V2)
    setup.runtime.start("hold", drain=True, fire=False)
    with setup.store.db.write() as conn:
        [(new, _)] = upsert_customers(
            conn, [{"external_id": "N1"}], key="external_id", project=setup.project, now=START
        )
    setup.runtime.enter("hold", "everyone", [Entry(new)])
    setup.runtime.run_until_idle()
    assert setup.where() == [
        ("waiting", 1, "everyone", "wait-nl"),
        ("waiting", 1, "everyone", "wait-nl"),
        ("waiting", 1, "everyone", "wait-nl"),
        ("waiting", 2, "everyone", "wait-all"),
    ]
    with setup.store.db.read() as conn:
        assert versions.draining(conn, "hold", 2) == {1: 3}
    # another process (a worker started after the deploy) runs both versions
    worker = setup.fresh()
    setup.clock.advance(timedelta(days=1, minutes=1))
    worker.run_until_idle()
    assert (
        setup.where()
        == [("finished", 2, "done", None)] + [("waiting", 1, "everyone", "wait-nl")] * 3
    )
    setup.clock.advance(timedelta(days=2))
    worker.run_until_idle()
    assert setup.where() == [("finished", 1, "done", None)] * 3 + [("finished", 2, "done", None)]
    with setup.store.db.read() as conn:
        assert versions.draining(conn, "hold", 2) == {}


def test_a_running_worker_follows_a_deploy_of_another_process(setup: Setup) -> None:
    worker = setup.fresh()
    assert worker.started_flows() == ["hold"]
    setup.edit(MOVED)
    setup.runtime.start("hold")
    setup.clock.advance(timedelta(days=1, minutes=1))
    worker._started = None  # as a second later
    assert worker.started_flows() == ["hold"] and worker.flows["hold"].version == 2
    worker.run_until_idle()
    assert {(v, last) for _, v, last, _ in setup.where()} == {(2, "done")}
