"""``POST /api/v1/flows/{flow}/start`` around an edit that strands journeys (DESIGN sections 5
and 10): a start deploys the file as ``sluis start`` does, refuses with the same message naming
both fixes, and takes the same ``drain`` choice; a flow that runs already keeps its version."""

from __future__ import annotations

from collections.abc import Callable

from api_helpers import Api, Setup
from deploying import V1, V2
from sqlalchemy import select

from api.app import create_app
from engine.model.flow import load_flow, load_flows
from engine.model.project import Project
from engine.runtime.clock import SystemClock
from engine.runtime.plan import refusal
from engine.runtime.runner import Runtime
from engine.store import Store, versions
from engine.store.customers import upsert_customers
from engine.store.models import JOURNEYS


def _inside(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> tuple[Setup, Runtime, int]:
    """Flow ``hold`` version 1 with two journeys waiting at ``wait-nl``, then stopped; a third
    customer who is in no journey; the file edited to V2 (``wait-nl`` removed)."""
    project = make_project("timezone: UTC\n", {"hold": V1})
    store = store_for(project)
    with store.db.write() as conn:
        done = upsert_customers(
            conn,
            [{"external_id": f"C{n}", "email": f"c{n}@x.nl"} for n in (1, 2)],
            key="external_id",
            project=project,
            now=SystemClock().now(),
        )
    flows, problems = load_flows(project)
    assert not problems
    runtime = Runtime(store, flows, SystemClock())
    runtime.start("hold")
    runtime.fire_due()
    runtime.run_until_idle()
    runtime.stop("hold")
    with store.db.write() as conn:
        [(late, _)] = upsert_customers(
            conn,
            [{"external_id": "C3", "email": "c3@x.nl"}],
            key="external_id",
            project=project,
            now=SystemClock().now(),
        )
    assert len(done) == 2
    (project.flows_dir / "hold.yaml").write_text(V2)
    app = create_app(project, store)
    setup = Setup(project, store, app, "", Api(app))
    _, token = setup.make_token("crm", service=True)
    setup.token, setup.api = token, Api(app, token)
    return setup, runtime, late


def _journeys(setup: Setup) -> list[tuple[int, str, int]]:
    table = JOURNEYS
    with setup.store.db.read() as conn:
        rows = conn.execute(select(table).order_by(table.c.customer_id))
        return [(r.customer_id, r.object, r.version) for r in rows]


def test_a_start_that_would_strand_journeys_is_refused_naming_both_fixes(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    setup, runtime, late = _inside(make_project, store_for)
    before = _journeys(setup)
    assert [(obj, version) for _, obj, version in before] == [("wait-nl", 1), ("wait-nl", 1)]
    answer = setup.api.post("/api/v1/flows/hold/start", json={"customers": [late]})
    assert answer.status_code == 409, answer.text
    said = answer.json()["detail"]
    # the same message as sluis start
    edited = load_flow(setup.project.flows_dir / "hold.yaml", setup.project)
    assert said == refusal(runtime.plan(edited))
    assert "2 at 'wait-nl'" in " ".join(said.split())
    assert "'moved: {wait-nl: NEW_ID}'" in said and "'sluis start hold --drain'" in said
    # nothing half-done: not started, no new version, nobody entered
    assert _journeys(setup) == before
    with setup.store.db.read() as conn:
        assert versions.running_version(conn, "hold") == 1
    assert setup.api.get("/api/v1/flows/hold").json()["started"] is False


def test_drain_starts_the_new_version_beside_the_old_one(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    setup, _, late = _inside(make_project, store_for)
    answer = setup.api.post("/api/v1/flows/hold/start", json={"customers": [late], "drain": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["started"] is True and len(answer.json()["journeys"]) == 1
    *old, new = _journeys(setup)
    assert [(obj, version) for _, obj, version in old] == [("wait-nl", 1), ("wait-nl", 1)]
    assert new[0] == late and new[2] == 2  # entered at 'everyone' on the new version
    with setup.store.db.read() as conn:
        assert versions.running_version(conn, "hold") == 2
        assert versions.draining(conn, "hold", 2) == {1: 2}


def test_moved_in_the_file_makes_the_start_safe(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    setup, _, late = _inside(make_project, store_for)
    (setup.project.flows_dir / "hold.yaml").write_text("moved: {wait-nl: wait-all}\n" + V2)
    answer = setup.api.post("/api/v1/flows/hold/start", json={"customers": [late]})
    assert answer.status_code == 200, answer.text
    *old, _ = _journeys(setup)
    assert [(obj, version) for _, obj, version in old] == [("wait-all", 2), ("wait-all", 2)]


def test_a_running_flow_keeps_its_version_whatever_the_file_says(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    setup, runtime, late = _inside(make_project, store_for)
    runtime.start("hold", fire=False)  # the running version 1 again, as it was
    answer = setup.api.post("/api/v1/flows/hold/start", json={"customers": [late]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["started"] is False
    assert [(obj, version) for _, obj, version in _journeys(setup)] == [
        ("wait-nl", 1),
        ("wait-nl", 1),
        ("wait-nl", 1),
    ]
    with setup.store.db.read() as conn:
        assert versions.running_version(conn, "hold") == 1


def test_a_file_that_no_longer_validates_refuses_the_start(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    setup, _, late = _inside(make_project, store_for)
    (setup.project.flows_dir / "hold.yaml").write_text(V2.replace("next: done", "next: dne"))
    answer = setup.api.post("/api/v1/flows/hold/start", json={"customers": [late]})
    assert answer.status_code == 409, answer.text
    assert (
        "next 'dne' is not an object in this flow; did you mean 'done'?"
        in (answer.json()["detail"])
    )
    assert setup.api.get("/api/v1/flows/hold").json()["started"] is False


def test_the_counts_show_the_draining_version_beside_the_running_one(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    from draining import draining

    project, store, _ = draining(make_project, store_for)
    app = create_app(project, store)
    setup = Setup(project, store, app, "", Api(app))
    _, token = setup.make_token("crm", service=True)
    answer = Api(app, token).get("/api/v1/flows/hold")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == 2
    hold = next(o for o in body["objects"] if o["id"] == "hold")
    assert (hold["waiting"], hold["draining"]) == (2, 1)
    assert body["draining"] == [{"version": 1, "journeys": 3, "objects": {"wait-nl": 2, "hold": 1}}]
