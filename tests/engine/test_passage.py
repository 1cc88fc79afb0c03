"""A batch's passage through instant objects: one claim, one transaction, every step recorded,
writes visible to the objects after them, failures confined to the object that failed; on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.passage import BatchReport
from engine.runtime.runner import Runtime
from engine.sdk.batch import Entry
from engine.store import Store
from engine.store.customers import upsert_customers
from engine.store.models import CLAIMS, JOURNEYS, STEPS

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = "timezone: UTC\nprofile: {country: str, segment: str, score: int}\n"
FLOW = """
objects:
  hook: {type: webhook, endpoint: hook, next: by-country}
  by-country:
    type: split
    branches: {dutch: customer.country == "NL"}
    next: {dutch: mark, otherwise: hold}
  mark: {type: update, set: {segment: "nl-{{ customer.country|lower }}"}, next: check}
  check: {type: filter, when: customer.segment == "nl-nl", next: {out: tag, filtered: end}}
  tag: {type: group, add: [dutch], next: pool}
  pool: {type: bucket, size: 2, next: end}
  hold: {type: wait, for: 1d, next: end}
  end: {type: end}
"""


def setup(
    make_project: Callable[..., Project],
    store_for: Callable[[Project], Store],
    flow: str = FLOW,
    countries: tuple[str, ...] = ("NL", "NL", "NL", "BE"),
) -> tuple[Runtime, list[int], list[BatchReport]]:
    project = make_project(SETTINGS, {"f": flow})
    store = store_for(project)
    runtime = Runtime(store, [find_flow(project, "f")], VirtualClock(START), owner="w1")
    with store.db.write() as conn:
        rows = [{"external_id": f"C{i}", "country": c} for i, c in enumerate(countries)]
        ids = [
            sid
            for sid, _ in upsert_customers(
                conn, rows, key="external_id", project=project, now=START
            )
        ]
    runtime.start("f")
    reports: list[BatchReport] = []
    runtime.on_batch.append(reports.append)
    runtime.enter("f", "hook", [Entry(i) for i in ids])
    return runtime, ids, reports


def rows(store: Store, query: object) -> list[tuple[object, ...]]:
    with store.db.read() as conn:
        return [tuple(r) for r in conn.execute(query)]  # type: ignore[call-overload]


def test_one_claim_takes_journeys_through_every_instant_object(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    runtime, ids, reports = setup(make_project, store_for)
    first = runtime.run_batch()
    assert first is not None and first.object == "by-country" and first.size == 4
    # one claim: split, update, filter and group ran; the wait and the bucket need their own
    assert [(r.object, r.size, dict(r.outputs)) for r in reports] == [
        ("by-country", 4, {"dutch": 3, "otherwise": 1}),
        ("mark", 3, {"out": 3}),
        ("check", 3, {"out": 3}),
        ("tag", 3, {"out": 3}),
    ]
    J = JOURNEYS
    where = rows(runtime.store, select(J.c.customer_id, J.c.object, J.c.state).order_by(J.c.id))
    assert where == [
        (ids[0], "pool", "active"),
        (ids[1], "pool", "active"),
        (ids[2], "pool", "active"),
        (ids[3], "hold", "active"),
    ]
    S = STEPS
    steps = rows(
        runtime.store,
        select(S.c.object, S.c.output, S.c.reason)
        .where(S.c.journey_id == select(J.c.id).where(J.c.customer_id == ids[0]).scalar_subquery())
        .order_by(S.c.id),
    )
    # the filter saw the segment the update wrote a moment before, in the same transaction
    assert [s[:2] for s in steps] == [
        ("hook", "out"),
        ("by-country", "dutch"),
        ("mark", "out"),
        ("check", "out"),
        ("tag", "out"),
    ]
    assert rows(runtime.store, select(CLAIMS)) == []


def test_a_release_moves_on_as_one_batch_and_ends_in_the_same_claim(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    runtime, _, reports = setup(make_project, store_for)
    runtime.run_until_idle()
    # three reached the bucket: a group of two went on together, one waits for company
    after_pool = [(r.object, r.size) for r in reports if r.object in ("pool", "end")]
    assert after_pool == [("pool", 3), ("end", 2)]
    J = JOURNEYS
    states = dict(rows(runtime.store, select(J.c.customer_id, J.c.state)))
    assert sorted(states.values()) == ["active", "active", "finished", "finished"]


def test_a_failing_instant_object_fails_only_its_own_journeys(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    flow = FLOW.replace(
        'set: {segment: "nl-{{ customer.country|lower }}"}',
        "set: {score: '{{ customer.country }}'}",
    )
    runtime, ids, _ = setup(make_project, store_for, flow)
    runtime.run_batch()
    J = JOURNEYS
    states = dict(rows(runtime.store, select(J.c.customer_id, J.c.state)))
    # 'NL' is no whole number: the update fails the three Dutch customers, the split stands
    assert [states[i] for i in ids] == ["failed", "failed", "failed", "active"]
    S = STEPS
    split_steps = rows(runtime.store, select(S.c.output).where(S.c.object == "by-country"))
    assert sorted(o for (o,) in split_steps) == ["dutch", "dutch", "dutch", "otherwise"]
    failed = rows(runtime.store, select(S.c.reason).where(S.c.object == "mark"))
    assert len(failed) == 3 and all("score" in r or "number" in r for (r,) in failed)


def test_a_bulk_firing_refreshes_the_planner_statistics(
    make_project: Callable[..., Project],
    store_for: Callable[[Project], Store],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL plans claims from statistics: a firing that enters many customers analyzes
    the journeys at once rather than leaving the planner to think the table empty."""
    import engine.runtime.firing

    monkeypatch.setattr(engine.runtime.firing, "BULK_ENTRY", 3)
    flow = "objects:\n  everyone: {type: selection, next: done}\n  done: {type: end}\n"
    project = make_project(SETTINGS, {"f": flow})
    store = store_for(project)
    with store.db.write() as conn:
        upsert_customers(
            conn,
            [{"external_id": f"C{i}"} for i in range(4)],
            key="external_id",
            project=project,
            now=START,
        )
    runtime = Runtime(store, [find_flow(project, "f")], VirtualClock(START))
    runtime.start("f")
    assert runtime.fire_due() == 4
    if store.db.dialect == "postgresql":
        with store.db.read() as conn:
            tuples = conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE relname = 'journeys'"
            ).scalar_one()
        assert tuples == 4  # -1 until analyzed
