"""engine.runtime.monitor: live counts per object (waiting, passed per output, failed), kept up to date
by counting only new steps; flow totals; recent events; waiting customers paged and searched.
On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.monitor import (
    FlowTotals,
    Monitor,
    ObjectCounts,
    counts_of,
    flow_states,
    has_journeys,
    recent_events,
    step_counts,
    waiting_at,
)
from engine.runtime.runner import IncomingEvent, Runtime
from engine.sdk.batch import Entry
from engine.store import Store
from engine.store.customers import upsert_customers

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FLOW = """
objects:
  everyone:
    type: selection
    next: dutch
  dutch:
    type: filter
    when: customer.country == "NL"
    next: {out: pause}
  pause:
    type: wait
    for: 2d
    next: done
  done:
    type: end
"""


@pytest.fixture
def setup(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> tuple[Store, Runtime, VirtualClock]:
    project = make_project("timezone: UTC\nprofile:\n  country: str\n", flows={"counts": FLOW})
    store = store_for(project)
    clock = VirtualClock(START)
    runtime = Runtime(store, [find_flow(project, "counts")], clock)
    rows = [
        {"external_id": f"C{n:02d}", "email": f"c{n:02d}@example.com", "country": country}
        for n, country in enumerate(["NL", "NL", "BE", "NL", "DE"], 1)
    ]
    with store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=project, now=START)
    return store, runtime, clock


def counts(store: Store, monitor: Monitor) -> dict[str, ObjectCounts]:
    with store.db.read() as conn:
        return monitor.refresh(conn)["counts"]


def test_counts_follow_the_journeys(setup: tuple[Store, Runtime, VirtualClock]) -> None:
    store, runtime, clock = setup
    monitor = Monitor(runtime.flows.values())
    with store.db.read() as conn:
        assert not has_journeys(conn)
    assert counts(store, monitor)["everyone"] == ObjectCounts(0, {}, 0)
    runtime.start("counts")
    runtime.fire_due()
    now = counts(store, monitor)
    assert now["everyone"].passed == {"out": 5}
    assert now["dutch"].waiting == 5
    runtime.run_until_idle()
    now = counts(store, monitor)
    assert now["dutch"] == ObjectCounts(0, {"out": 3, "filtered": 2}, 0)
    assert now["pause"].waiting == 3
    clock.advance(timedelta(days=2))
    runtime.run_until_idle()
    now = counts(store, monitor)
    assert now["pause"] == ObjectCounts(0, {"out": 3}, 0)
    assert now["done"] == ObjectCounts(0, {"end": 3}, 0)
    assert FlowTotals.of(runtime.flows["counts"], now) == FlowTotals(5, 0, 0)
    # a fresh monitor (a full count) agrees with the one that counted only new steps
    assert counts(store, Monitor(runtime.flows.values())) == now
    with store.db.read() as conn:
        assert has_journeys(conn)
        assert flow_states(conn) == {"counts": True}
        assert sum(step_counts(conn, runtime.flows["counts"]).values()) == 5 + 5 + 3 + 3


def test_failures_are_counted_where_they_happened(
    setup: tuple[Store, Runtime, VirtualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _, clock = setup
    from engine.errors import SluisError
    from objects.filter import Filter

    def broken(*args: object, **kwargs: object) -> None:
        raise SluisError("expression blew up")

    # a filter with a run of its own decides journey by journey (the path is chosen when a
    # runtime adopts the flow), so its failures are the journeys'
    monkeypatch.setattr(Filter, "run", broken)
    flow = find_flow(store.project, "counts")
    runtime = Runtime(store, [flow], clock)
    monitor = Monitor([flow])
    runtime.start("counts")
    runtime.fire_due()
    runtime.run_until_idle()
    now = counts(store, monitor)
    assert now["dutch"] == ObjectCounts(0, {}, 5)
    assert FlowTotals.of(flow, now) == FlowTotals(5, 0, 5)
    with store.db.read() as conn:
        events = recent_events(conn, "counts", "dutch")
    assert [e.kind for e in events] == ["failed"] * 5
    assert events[0].data["reason"] == "failed: expression blew up"
    assert {e.customer for e in events} == {"C01", "C02", "C03", "C04", "C05"}
    # failed counts the journeys failed there now: one taken back (as a retry does) waits again
    with store.db.write() as conn:
        conn.execute(
            text("UPDATE journeys SET state = 'active' WHERE id = (SELECT min(id) FROM journeys)")
        )
    assert counts(store, Monitor([flow]))["dutch"] == ObjectCounts(1, {}, 4)
    with store.db.read() as conn:  # the API answers with the same counts
        assert counts_of(conn, flow) == counts(store, Monitor([flow]))


def test_recent_events_newest_first(setup: tuple[Store, Runtime, VirtualClock]) -> None:
    store, runtime, _ = setup
    runtime.record_events(
        [
            IncomingEvent("open", 1, START + timedelta(hours=h), flow="counts", object="dutch")
            for h in range(3)
        ]
    )
    with store.db.read() as conn:
        events = recent_events(conn, "counts", limit=2)
        assert [e.at for e in events] == [START + timedelta(hours=2), START + timedelta(hours=1)]
        assert recent_events(conn, "other") == []


def test_waiting_customers_paged_and_searched(
    setup: tuple[Store, Runtime, VirtualClock],
) -> None:
    store, runtime, _ = setup
    runtime.start("counts", fire=False)
    runtime.enter("counts", "everyone", [Entry(i, {}) for i in range(1, 6)])
    with store.db.read() as conn:
        first = waiting_at(conn, "counts", "dutch", limit=2)
        assert [r.label for r in first.rows] == ["C01", "C02"] and first.more
        last = waiting_at(conn, "counts", "dutch", offset=4, limit=2)
        assert [r.label for r in last.rows] == ["C05"] and not last.more
        found = waiting_at(conn, "counts", "dutch", search="C04@EXAMPLE")
        assert [r.label for r in found.rows] == ["C04"]
        assert waiting_at(conn, "counts", "dutch", search="%").rows == []
        assert waiting_at(conn, "counts", "pause").rows == []


def test_new_steps_only_after_the_first_count(
    setup: tuple[Store, Runtime, VirtualClock],
) -> None:
    """A refresh reads only the steps added since the last one: steps counted once are not
    counted again even when the step table is not read in full."""
    store, runtime, _ = setup
    monitor = Monitor(runtime.flows.values(), settle=0)
    runtime.start("counts")
    runtime.fire_due()
    assert counts(store, monitor)["everyone"].passed == {"out": 5}
    runtime.start("counts", fire=False)
    runtime.enter("counts", "everyone", [Entry(1, {})])  # after-exit: C01 is still in
    assert counts(store, monitor)["everyone"].passed == {"out": 5}
    runtime.run_until_idle()
    assert counts(store, monitor)["dutch"].passed == {"out": 3, "filtered": 2}
    assert counts(store, monitor)["everyone"].passed == {"out": 5}


def test_a_drain_shows_both_versions(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    """While version 1 drains, each object counts version 2's journeys as waiting and version
    1's apart; the drain lists where version 1's journeys are, removed objects included."""
    from draining import draining

    from engine.runtime.monitor import Draining, drain_line

    _, store, runtime = draining(make_project, store_for)
    flow = runtime.flows["hold"]
    monitor = Monitor([flow])
    with store.db.read() as conn:
        counts = monitor.refresh(conn)["hold"]
    assert counts["hold"] == ObjectCounts(2, {}, 0, {1: 1})
    assert counts["everyone"].draining == {}
    assert monitor.drains == {"hold": [Draining(1, {"wait-nl": 2, "hold": 1})]}
    assert drain_line(flow, monitor.drains["hold"]) == (
        "version 1 drains: 3 journeys still on it (2 at wait-nl, 1 at hold) · "
        "new entries take version 2"
    )
    assert FlowTotals.of(flow, counts).waiting == 3  # those at objects of version 2
    # the old version empties: the drain ends, and the counts say so
    for _ in range(2):  # wait-nl 3d, then hold 5d
        runtime.clock.advance(timedelta(days=6))
        runtime.run_until_idle()
    with store.db.read() as conn:
        counts = monitor.refresh(conn)["hold"]
    assert counts["hold"] == ObjectCounts(0, {"out": 5}, 0, {})  # passed: both versions
    assert monitor.drains == {}
