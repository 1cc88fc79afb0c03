"""Set-based instant objects: a batch decided in the database gives the steps, reasons and
customer writes the journey-by-journey path gives, on random batches (nulls, ties, percent
splits), on SQLite and PostgreSQL; percent shares hash as the split object does; a crash
between claim and commit loses nothing on the set-based path either."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from test_runtime import claim_batch
from test_sqlexpr_agrees import NOW, _fill, customers, predicates
from test_sqlexpr_agrees import project as project  # the module's fixtures, shared
from test_sqlexpr_agrees import stores as stores

from engine.errors import FlowError
from engine.model.flow import find_flow, parse_flow
from engine.model.project import Project
from engine.model.shares import key_below, percent_point, share_key, share_prefix
from engine.runtime import batches, setbased
from engine.runtime.clock import VirtualClock
from engine.runtime.runner import Runtime
from engine.sdk.batch import Entry
from engine.store import Database, Store
from engine.store import journeys as sql
from engine.store.customers import upsert_customers
from engine.store.passing import PassageSql
from engine.store.raw import json_value, time_value

CRASH_SETTINGS = "timezone: UTC\nprofile: {name: str, segment: str}\n"
RUN_AT = NOW + timedelta(hours=1)  # after the customers were stored: changes show
TABLES = ("steps", "events", "claims", "journeys", "memberships", "groups", "records", "customers")

# -- random instant objects ------------------------------------------------------------------

text_values = st.sampled_from(
    [
        "{{ customer.name }}",
        "{{ customer.name|lower }}-x",
        "{{ customer.name|upper }}{{ customer.external_id }}",
        "{{ customer.email }}",
        "x",
        " ",
        "\u00a0\t",
        "",
        None,
        "{{ customer.name }}{{ data.x }}",  # entry data: journey by journey
        "{{ customer.score }}",  # a number rendered: journey by journey
        "{{ customer.name|title }}",  # a filter the database lacks: journey by journey
    ]
)
field_values = st.one_of(
    st.tuples(st.just("name"), text_values),
    st.tuples(st.just("score"), st.sampled_from(["5", "-1", None, "", "{{ customer.name }}"])),
    st.tuples(st.just("vip"), st.sampled_from(["true", "no", None])),
    st.tuples(st.just("born"), st.sampled_from(["2026-01-02", None])),
)
shares = st.lists(
    st.sampled_from([0, 10, 25, 33.3, 50, 100 / 3, 66.7, 100]), min_size=1, max_size=3
).filter(lambda values: sum(values) <= 100)
instant_objects = st.one_of(
    st.builds(lambda p: {"type": "filter", "when": p}, predicates),
    st.builds(
        lambda ps: {"type": "split", "branches": {f"b{i}": p for i, p in enumerate(ps)}},
        st.lists(predicates, min_size=1, max_size=3),
    ),
    st.builds(
        lambda values: {"type": "split", "percent": {f"p{i}": v for i, v in enumerate(values)}},
        shares,
    ),
    st.builds(
        lambda values: {"type": "update", "set": dict(values)},
        st.lists(field_values, min_size=1, max_size=3),
    ),
    st.builds(
        lambda add, remove: {"type": "group", "add": add, "remove": remove},
        st.lists(st.sampled_from(["g1", "g2", "g3"]), max_size=2),
        st.lists(st.sampled_from(["g1", "g2"]), max_size=2),
    ).filter(lambda body: bool(body["add"] or body["remove"])),
    st.builds(
        lambda scope: {"type": "unsubscribe", "scope": scope}, st.sampled_from(["all", "flow"])
    ),
)


def _flow_text(objects: list[dict[str, Any]]) -> str:
    """hook -> o0 -> o1 -> ... -> done, every output of each object leading on; a split's
    last way and a filter's filtered journeys skip the next object (so an object is reached
    from two objects before it, at different times of a passage)."""
    ids = [f"o{i}" for i in range(len(objects))] + ["done"]
    body: dict[str, Any] = {"hook": {"type": "webhook", "endpoint": "hook", "next": ids[0]}}
    for n, (oid, after, spec) in enumerate(zip(ids, ids[1:], objects, strict=False)):
        skip = ids[min(n + 2, len(ids) - 1)]
        if spec["type"] == "split":
            names = [*(spec.get("branches") or spec.get("percent") or {})]
            spec = {**spec, "next": {**dict.fromkeys(names, after), "otherwise": skip}}
        elif spec["type"] == "filter":
            spec = {**spec, "next": {"out": after, "filtered": skip}}
        else:
            spec = {**spec, "next": after}
        body[oid] = spec
    body["done"] = {"type": "end"}
    return yaml.safe_dump({"reentry": "always", "objects": body}, sort_keys=False)


# -- running a flow one way or the other -----------------------------------------------------


def _reset(store: Store) -> None:
    """Empty the tables and restart their ids, so both runs number rows alike (percent
    shares hash the system_id)."""
    with store.db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("DELETE FROM sqlite_sequence"))


def _run(store: Store, source: str, rows: list[dict[str, Any]], *, in_database: bool) -> Any:
    _reset(store)
    _fill(store, rows)
    flow = parse_flow(source, "f.yaml", store.project, default_name="f")
    runtime = Runtime(store, [flow], VirtualClock(RUN_AT), owner="w")
    runtime.start("f")
    with store.db.read() as conn:
        ids = [i for (i,) in conn.execute(text("SELECT system_id FROM customers ORDER BY 1"))]
    # ties: some customers enter twice, in the same batch
    runtime.enter("f", "hook", [Entry(i) for i in ids + ids[::2]])
    with patch.object(setbased, "in_database", setbased.in_database if in_database else _never):
        runtime.run_until_idle()
    return _snapshot(store), setbased.paths(runtime.flows["f"], store.project)


def _wholly(store: Store, source: str) -> bool:
    flow = parse_flow(source, "f.yaml", store.project, default_name="f")
    return setbased.passes_in_database(flow, "o0", store.project)


def _never(*args: object) -> bool:
    return False


def _snapshot(store: Store) -> dict[str, Any]:
    with store.db.read() as conn:

        def rows(query: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(text(query))]

        return {
            "steps": rows("SELECT journey_id, object, output, reason FROM steps ORDER BY id"),
            "journeys": rows("SELECT id, object, state FROM journeys ORDER BY id"),
            "customers": [
                (sid, json_value(profile), time_value(updated), bool(unsubscribed))
                for sid, profile, updated, unsubscribed in rows(
                    "SELECT system_id, profile, updated_at, unsubscribed FROM customers "
                    "ORDER BY system_id"
                )
            ],
            "groups": rows(
                "SELECT g.name, m.customer_id FROM memberships m JOIN groups g "
                "ON g.id = m.group_id ORDER BY 1, 2"
            ),
            "events": [
                (kind, customer, flow, obj, journey, json_value(data))
                for kind, customer, flow, obj, journey, data in rows(
                    "SELECT kind, customer_id, flow, object, journey_id, data FROM events "
                    "ORDER BY id"
                )
            ],
        }


def _failed_in_python(snapshot: dict[str, Any]) -> bool:
    return any(
        output is None and reason.startswith("failed:") for *_, output, reason in snapshot["steps"]
    )


@pytest.mark.postgres
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=customers, objects=st.lists(instant_objects, min_size=1, max_size=3))
def test_set_based_and_per_journey_paths_agree(
    stores: list[Store], rows: list[dict[str, Any]], objects: list[dict[str, Any]]
) -> None:
    source = _flow_text(objects)
    try:
        parse_flow(source, "f.yaml", stores[0].project, default_name="f")
    except FlowError:
        event("refused at validation")
        return
    for store in stores:
        dialect = store.db.engine.dialect.name
        per_journey, _ = _run(store, source, rows, in_database=False)
        set_based, chosen = _run(store, source, rows, in_database=True)
        if set_based != per_journey and _failed_in_python(per_journey):
            event("refused by Python at run time")
            return  # an expression Python cannot answer fails the batch there
        assert set_based == per_journey, (dialect, source)
        event(f"passes wholly in the database: {_wholly(store, source)}")
        event(
            f"set-based objects besides the end: {sum(p.decision is not None for p in chosen.values()) - 1}"
        )


# -- percent shares --------------------------------------------------------------------------


def test_share_keys_order_as_percent_points() -> None:
    rng = random.Random(7)
    edges = [0.0, 1e-12, 10.0, 33.3, 100 / 3, 50.0, 99.99999999, 100.0, 100.5]
    for _ in range(2000):
        customer = rng.randrange(1, 10**9)
        point, key = percent_point("f", "split", customer), share_key("f", "split", customer)
        for edge in edges:
            below = key_below(edge)
            by_key = True if below is None else key < below
            assert by_key == (point < edge), (customer, edge)


def test_the_database_hashes_as_python_does(db_url: str) -> None:
    db = Database(db_url)
    db.create_schema()
    ids = [1, 2, 9, 10, 99, 12345, 2**40 + 3]
    with db.read() as conn:
        if conn.dialect.name == "postgresql":
            query = (
                "SELECT substr(encode(sha256(:prefix || convert_to(CAST(:id AS text), 'UTF8')), "
                "'hex'), 1, 16)"
            )
            params: Callable[[int], dict[str, Any]] = lambda i: {  # noqa: E731
                "prefix": share_prefix("fl", "sp"),
                "id": i,
            }
        else:
            query = "SELECT sluis_share_key('fl', 'sp', :id)"
            params = lambda i: {"id": i}  # noqa: E731
        found = [conn.execute(text(query), params(i)).scalar_one() for i in ids]
    db.dispose()
    assert found == [share_key("fl", "sp", i) for i in ids]


# -- crash between claim and commit -----------------------------------------------------------

CRASH_FLOW = """
objects:
  hook: {type: webhook, endpoint: hook, next: score}
  score: {type: update, set: {segment: "{{ customer.name|lower }}-seen"}, next: nl}
  nl: {type: filter, when: customer.name == "Ann", next: {out: tag}}
  tag: {type: group, add: [seen]}
"""


def _crash_setup(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> tuple[Project, Store, VirtualClock, Runtime]:
    """The crash flow started by worker w1."""
    project = make_project(CRASH_SETTINGS, {"f": CRASH_FLOW})
    store = store_for(project)
    clock = VirtualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    runtime = Runtime(store, [find_flow(project, "f")], clock, owner="w1")
    runtime.start("f")
    return project, store, clock, runtime


def test_a_batch_passing_in_the_database_takes_up_to_passage_size_journeys(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    """A replay's batches passing in the database are bigger than its claimed ones."""
    project, store, clock, runtime = _crash_setup(make_project, store_for)
    with store.db.write() as conn:
        rows = [{"external_id": f"C{i}", "name": "Ann"} for i in range(7)]
        made = upsert_customers(conn, rows, key="external_id", project=project, now=clock.now())
    runtime.enter("f", "hook", [Entry(sid) for sid, _ in made])
    sized = Runtime(store, runtime.flows.values(), clock, batch_size=2, passage_size=5)
    sizes = []
    while (report := sized.run_batch()) is not None:
        sizes.append((report.object, report.size))
    assert sizes == [("score", 5), ("score", 2)]
    assert Runtime(store, [], clock, batch_size=2).passage_size == 2  # by default the same


def test_a_crash_between_claim_and_commit_loses_nothing_on_the_set_based_path(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    project, store, clock, runtime = _crash_setup(make_project, store_for)
    flow = runtime.flows["f"]
    assert {oid: str(p) for oid, p in setbased.paths(flow, project).items()} == {
        "score": "set-based",
        "nl": "set-based",
        "tag": "set-based",
    }
    with store.db.write() as conn:
        rows = [{"external_id": f"C{i}", "name": ("Ann", "Bob", None)[i % 3]} for i in range(6)]
        made = upsert_customers(conn, rows, key="external_id", project=project, now=clock.now())
    runtime.enter("f", "hook", [Entry(sid) for sid, _ in made])
    claimed = claim_batch(runtime, "w1")  # w1 claims the batch at 'score' and dies
    assert claimed is not None and claimed.object == "score" and len(claimed.rows) == 6
    other = Runtime(store, runtime.flows.values(), clock, owner="w2")
    assert other.run_batch() is None  # leased
    clock.advance(runtime.lease + timedelta(seconds=1))
    report = other.run_batch()
    assert report is not None and report.object == "score" and report.size == 6
    late = Runtime(store, runtime.flows.values(), clock, owner="w1")
    assert batches.run_claimed(late, claimed, clock.now()).size == 0  # its commit is refused
    snapshot = _snapshot(store)
    names = [row["name"] for row in rows]
    checked = [
        ("nl", "out", 'customer.name == "Ann" was true')
        if name == "Ann"
        else ("nl", "filtered", 'filtered: customer.name == "Ann" was false')
        for name in names
    ]
    assert [(o, out, r) for _, o, out, r in snapshot["steps"] if o != "hook"] == [
        *[("score", "out", "set segment")] * 6,
        *checked,
        *[("tag", "out", "added to seen")] * 2,
    ]
    assert [c[1].get("segment") for c in snapshot["customers"]] == [
        "ann-seen",
        "bob-seen",
        "none-seen",
    ] * 2
    assert [name for name, _ in snapshot["groups"]] == ["seen", "seen"]
    with store.db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM claims")).scalar_one() == 0


def test_an_object_with_its_own_run_is_decided_journey_by_journey(
    make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    from objects.filter import Filter

    project = make_project(CRASH_SETTINGS, {"f": CRASH_FLOW})
    monkeypatch.setattr(Filter, "run", lambda self, **kw: None)
    chosen = setbased.paths(find_flow(project, "f"), project)
    assert str(chosen["nl"]) == "per journey: the filter type decides in its own run"
    assert str(chosen["score"]) == "set-based"


def test_the_written_out_whitespace_is_what_strip_removes() -> None:
    from engine.store.decisions import WHITESPACE

    every = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    assert every == WHITESPACE
    assert (WHITESPACE + "x" + WHITESPACE).strip() == "x"


class Crash(BaseException):
    """The process dies (no handler runs)."""


def test_a_crash_half_way_through_a_passage_in_the_database_loses_nothing(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    project, store, clock, runtime = _crash_setup(make_project, store_for)
    assert setbased.passes_in_database(runtime.flows["f"], "score", project)
    with store.db.write() as conn:
        rows = [{"external_id": f"C{i}", "name": ("Ann", "Bob", None)[i % 3]} for i in range(6)]
        made = upsert_customers(conn, rows, key="external_id", project=project, now=clock.now())
    runtime.enter("f", "hook", [Entry(sid) for sid, _ in made])
    before = _snapshot(store)
    clock.advance(timedelta(minutes=1))
    # the update's fields are set and the filter's steps written when the process dies
    with (
        patch.object(PassageSql, "place", side_effect=Crash),
        pytest.raises(Crash),
    ):
        runtime.run_batch()
    assert _snapshot(store) == before
    with store.db.read() as conn:
        journeys = conn.execute(text("SELECT object, state, claim_id FROM journeys")).all()
        assert conn.execute(text("SELECT count(*) FROM claims")).scalar_one() == 0
    assert journeys == [("score", "active", None)] * 6
    other = Runtime(store, runtime.flows.values(), clock, owner="w2")
    report = other.run_batch()
    assert report is not None and report.object == "score" and report.size == 6
    snapshot = _snapshot(store)
    assert [c[1].get("segment") for c in snapshot["customers"]] == [
        "ann-seen",
        "bob-seen",
        "none-seen",
    ] * 2
    assert [(o, out) for _, o, out, _ in snapshot["steps"] if o == "tag"] == [("tag", "out")] * 2
    assert snapshot["journeys"][0][1:] == ("tag", "finished")
    assert [state for *_, state in snapshot["journeys"]] == ["finished"] * 6


def test_a_batch_passing_in_the_database_takes_no_claim(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    """It is taken and passed in one transaction: no claim is written (a failure of it is
    claimed the ordinary way, so its attempts are counted)."""
    project, store, clock, runtime = _crash_setup(make_project, store_for)
    with store.db.write() as conn:
        made = upsert_customers(
            conn,
            [{"external_id": "C1", "name": "Ann"}],
            key="external_id",
            project=project,
            now=clock.now(),
        )
    runtime.enter("f", "hook", [Entry(sid) for sid, _ in made])
    claims: list[int] = []
    real_claim = sql.claim

    def counting(*args: Any, **kwargs: Any) -> Any:
        taken = real_claim(*args, **kwargs)
        claims.append(isinstance(taken, sql.ClaimedBatch))
        return taken

    with patch.object(sql, "claim", counting):
        assert runtime.run_batch() is not None
        assert claims == [False]
        with patch.object(PassageSql, "chosen", side_effect=RuntimeError("a bug")):
            runtime.enter("f", "hook", [Entry(sid) for sid, _ in made])
            runtime.run_batch()
    assert claims == [False, False, True]  # taken in place, failed, then claimed
    with store.db.read() as conn:
        error = conn.execute(text("SELECT error FROM claims")).scalar_one()
    assert "a bug" in error  # its run failed; the claim counts it and runs it again
