"""The runtime's guarantees: leases and rescue after a crash, stopped flows, start by hand,
events waking journeys; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, select

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime import batches
from engine.runtime.clock import VirtualClock
from engine.runtime.runner import IncomingEvent, Runtime
from engine.sdk.batch import Entry
from engine.store import Store
from engine.store import journeys as sql
from engine.store.customers import upsert_customers
from engine.store.models import CLAIMS, JOURNEYS, STEPS

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FLOW = """
objects:
  hook: {type: webhook, endpoint: hook, next: tag}
  tag: {type: group, add: [seen], next: opened}
  opened: {type: wait-for, event: open, within: 2d, next: {yes: end, no: end}}
  end: {type: end}
"""


def setup(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store], n: int = 5
) -> tuple[Runtime, VirtualClock, list[int]]:
    project = make_project("timezone: UTC\nprofile: {first_name: str}\n", {"f": FLOW})
    store = store_for(project)
    clock = VirtualClock(START)
    runtime = Runtime(store, [find_flow(project, "f")], clock, owner="w1")
    with store.db.write() as conn:
        rows = [{"external_id": f"C{i}", "email": f"c{i}@example.com"} for i in range(n)]
        ids = [
            sid
            for sid, _ in upsert_customers(
                conn, rows, key="external_id", project=project, now=START
            )
        ]
    runtime.start("f")
    return runtime, clock, ids


def claim_batch(runtime: Runtime, owner: str) -> sql.ClaimedBatch:
    """The next ready batch of flow 'f', claimed as worker ``owner`` does (which then dies,
    or is slow)."""
    with runtime.store.db.write() as conn:
        claimed = sql.claim(
            conn,
            owner=owner,
            flows=["f"],
            claims_all={},
            now=runtime.clock.now(),
            lease=runtime.lease,
            size=1000,
        )
    assert isinstance(claimed, sql.ClaimedBatch)
    return claimed


def count(store: Store, table: Table, **where: object) -> int:
    query = select(func.count()).select_from(table)
    for key, value in where.items():
        query = query.where(table.c[key] == value)
    with store.db.read() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_crash_between_claim_and_commit_loses_no_journey(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    runtime, clock, ids = setup(make_project, store_for)
    runtime.enter("f", "hook", [Entry(i) for i in ids])
    # worker w1 claims the batch at 'tag' and dies before committing
    claimed = claim_batch(runtime, "w1")
    assert claimed is not None and len(claimed.rows) == 5
    other = Runtime(runtime.store, runtime.flows.values(), clock, owner="w2")
    assert other.run_batch() is None  # leased: nobody else may take it yet
    clock.advance(runtime.lease + timedelta(seconds=1))
    report = other.run_batch()
    assert report is not None and report.object == "tag" and report.size == 5
    assert count(runtime.store, STEPS, object="tag") == 5
    assert count(runtime.store, CLAIMS) == 0
    # the dead worker's late commit is refused: it no longer holds the claim
    with runtime.store.db.write() as conn:
        assert not sql.still_ours(conn, claimed.claim_id, "w1")


def test_steps_are_recorded_once_when_a_lost_lease_commits_late(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    runtime, clock, ids = setup(make_project, store_for, n=3)
    runtime.enter("f", "hook", [Entry(i) for i in ids])
    slow = Runtime(runtime.store, runtime.flows.values(), clock, owner="slow")
    claimed = claim_batch(slow, "slow")
    assert claimed is not None
    clock.advance(slow.lease + timedelta(seconds=1))
    fast = Runtime(runtime.store, runtime.flows.values(), clock, owner="fast")
    assert fast.run_batch() is not None
    late = batches.run_claimed(slow, claimed, clock.now())
    assert late.size == 0  # refused
    assert count(runtime.store, STEPS, object="tag") == 3


def test_events_wake_waiting_journeys(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    runtime, clock, ids = setup(make_project, store_for, n=2)
    runtime.enter("f", "hook", [Entry(i) for i in ids])
    runtime.run_until_idle()
    assert runtime.next_due() == START + timedelta(days=2)
    clock.advance(timedelta(hours=5))
    runtime.record_events([IncomingEvent("open", ids[0], clock.now(), flow="f")])
    assert runtime.run_until_idle() >= 1
    assert count(runtime.store, STEPS, object="opened", output="yes") == 1
    assert count(runtime.store, JOURNEYS, state="active") == 1


def test_stopped_flows_keep_their_journeys_until_started(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    runtime, _clock, ids = setup(make_project, store_for, n=2)
    runtime.enter("f", "hook", [Entry(i) for i in ids])
    runtime.stop("f")
    assert runtime.run_batch() is None
    assert count(runtime.store, JOURNEYS, object="tag", state="active") == 2
    runtime.start("f")
    assert runtime.run_batch() is not None
    assert count(runtime.store, JOURNEYS, object="opened") == 2


def test_run_once_fires_start_objects_without_schedule_only_once(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    project = make_project(
        "timezone: UTC\n",
        {"f": "objects:\n  sel: {type: selection, next: end}\n  end: {type: end}\n"},
    )
    store = store_for(project)
    clock = VirtualClock(START)
    runtime = Runtime(store, [find_flow(project, "f")], clock)
    with store.db.write() as conn:
        upsert_customers(
            conn, [{"external_id": "A"}], key="external_id", project=project, now=START
        )
    runtime.start("f")
    assert runtime.fire_due() == 1
    assert runtime.fire_due() == 0
    runtime.run_until_idle()
    assert count(store, JOURNEYS, state="finished") == 1
    assert runtime.next_due() is None


@pytest.mark.parametrize(
    ("pause", "loads"),
    [
        ("{type: wait, for: 1h, next: done}", False),
        ('{type: wait, for: 1h, at: "09:00", days: [mon, tue], next: done}', False),
        ('{type: wait, until: date("2026-01-06"), next: done}', True),  # an expression
        ("{type: wait, for: 1h, timezone: customer, next: done}", True),
    ],
)
def test_a_wait_loads_its_customers_only_when_its_settings_read_them(
    pause: str,
    loads: bool,
    make_project: Callable[..., Project],
    store_for: Callable[[Project], Store],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow = f"objects:\n  hook: {{type: webhook, endpoint: hook, next: pause}}\n  pause: {pause}\n  done: {{type: end}}\n"
    project = make_project("timezone: UTC\nprofile: {first_name: str}\n", {"f": flow})
    store = store_for(project)
    clock = VirtualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    runtime = Runtime(store, [find_flow(project, "f")], clock, owner="w")
    runtime.start("f")
    with store.db.write() as conn:
        made = upsert_customers(
            conn, [{"external_id": "C1"}], key="external_id", project=project, now=clock.now()
        )
    loaded: list[int] = []
    real = batches.load_customers

    def counting(conn: Any, ids: Any, project: Project) -> Any:
        loaded.append(len(ids))
        return real(conn, ids, project)

    monkeypatch.setattr(batches, "load_customers", counting)
    runtime.enter("f", "hook", [Entry(sid) for sid, _ in made])
    runtime.run_until_idle()
    clock.advance(timedelta(days=2))
    runtime.run_until_idle()
    assert count(store, JOURNEYS, state="finished") == 1
    assert bool(loaded) == loads
