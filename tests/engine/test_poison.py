"""No poison loops (DESIGN.md 8): a journey at an object its flow lacks fails with a reason;
an object that raises fails its batch at most 3 times (attempts on the claim), then its
journeys fail with a one-line reason, the traceback logged once, and the runtime goes on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.explain import journeys_of
from engine.runtime.runner import Runtime
from engine.sdk.batch import Entry
from engine.store import Store
from engine.store import journeys as sql
from engine.store.customers import upsert_customers
from engine.store.models import CLAIMS, EVENTS
from objects.update import Update

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WAITING = """
objects:
  hook: {type: webhook, endpoint: hook, next: wait-nl}
  wait-nl: {type: wait, for: 1d, next: done}
  done: {type: end}
"""
ROUTED_AROUND = """
objects:
  hook: {type: webhook, endpoint: hook, next: done}
  done: {type: end}
"""
TOUCHING = """
objects:
  hook: {type: webhook, endpoint: hook, next: touch}
  touch: {type: update, set: {first_name: Ann}, next: done}
  done: {type: end}
"""


def _customers(store: Store, project: Project, n: int) -> list[int]:
    rows = [{"external_id": f"C{i}", "email": f"c{i}@example.com"} for i in range(n)]
    with store.db.write() as conn:
        made = upsert_customers(conn, rows, key="external_id", project=project, now=START)
    return [sid for sid, _ in made]


def _states(store: Store) -> list[tuple[str, str | None, str | None]]:
    with store.db.read() as conn:
        views = journeys_of(conn, flow="f")
    return [(v.state, v.steps[-1].object, v.steps[-1].reason) for v in views]


def test_a_journey_at_a_removed_object_fails_and_the_rest_go_on(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    project = make_project("timezone: UTC\nprofile: {first_name: str}\n", {"f": WAITING})
    store, clock = store_for(project), VirtualClock(START)
    runtime = Runtime(store, [find_flow(project, "f")], clock, owner="w1")
    runtime.start("f")
    ids = _customers(store, project, 3)
    runtime.enter("f", "hook", [Entry(i) for i in ids])
    runtime.run_until_idle()
    # the wait is deleted and routed around while they wait there: in the running version
    # itself, as only a hand edit of the database can do (a deploy refuses to strand them)
    (project.flows_dir / "f.yaml").write_text(ROUTED_AROUND)
    with store.db.write() as conn:
        conn.execute(text("UPDATE flow_versions SET yaml = :y"), {"y": ROUTED_AROUND})
    edited = Runtime(store, [find_flow(project, "f")], clock, owner="w2")
    clock.advance(timedelta(days=2))
    assert edited.run_until_idle(limit=10) == 1  # one batch, no loop
    reason = "failed: flow 'f' has no object 'wait-nl' any more"
    states = _states(store)
    assert [s[:2] for s in states] == [("failed", "wait-nl")] * 3
    assert all(s[2] and s[2].startswith(reason) for s in states)
    # new customers still go through the edited flow
    edited.enter("f", "hook", [Entry(i) for i in _customers(store, project, 5)[3:]])
    edited.run_until_idle(limit=10)
    assert [s[0] for s in _states(store)][3:] == ["finished", "finished"]


def _touching(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> tuple[Runtime, VirtualClock]:
    project = make_project("timezone: UTC\nprofile: {first_name: str}\n", {"f": TOUCHING})
    store, clock = store_for(project), VirtualClock(START)
    runtime = Runtime(store, [find_flow(project, "f")], clock, owner="w1")
    runtime.start("f")
    runtime.enter("f", "hook", [Entry(i) for i in _customers(store, project, 4)])
    return runtime, clock


def test_an_object_that_raises_fails_its_batch_three_times_then_its_journeys(
    make_project: Callable[..., Project],
    store_for: Callable[[Project], Store],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []

    def broken(self: Update, *, batch: Any, routing: Any, ctx: Any) -> None:
        runs.append(len(batch.journeys))
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(Update, "run", broken)
    runtime, _ = _touching(make_project, store_for)
    with caplog.at_level(logging.WARNING, logger="sluis.runtime"):
        assert runtime.run_until_idle(limit=20) == 3
    assert runs == [4, 4, 4]
    assert _states(runtime.store) == [("failed", "touch", "failed: RuntimeError: boom")] * 4
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    with runtime.store.db.read() as conn:
        assert conn.execute(select(CLAIMS)).all() == []
        kinds = [r.kind for r in conn.execute(select(EVENTS))]
    assert kinds.count("failed") == 4
    # the runtime goes on: a healthy batch afterwards runs
    monkeypatch.undo()
    runtime.enter(
        "f", "hook", [Entry(i) for i in _customers(runtime.store, runtime.store.project, 6)[4:]]
    )
    runtime.run_until_idle(limit=5)
    assert [s[0] for s in _states(runtime.store)][4:] == ["finished", "finished"]


def test_attempts_are_counted_on_the_claim_across_workers_that_died(
    make_project: Callable[..., Project],
    store_for: Callable[[Project], Store],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[int] = []
    monkeypatch.setattr(Update, "run", lambda self, **kw: runs.append(1))
    runtime, clock = _touching(make_project, store_for)
    for owner in ("dead1", "dead2", "dead3"):  # three workers claim it and die
        with runtime.store.db.write() as conn:
            claimed = sql.claim(
                conn,
                owner=owner,
                flows=["f"],
                claims_all={},
                now=clock.now(),
                lease=runtime.lease,
                size=100,
            )
        assert claimed is not None and claimed.attempts == int(owner[-1])
        clock.advance(runtime.lease + timedelta(seconds=1))
    assert runtime.run_until_idle(limit=5) == 1
    assert runs == []  # not run a fourth time
    [reason] = {s[2] for s in _states(runtime.store)}
    assert reason == "failed: its worker stopped while running it (3 attempts)"


def test_an_undeclared_output_fails_loudly_after_three_attempts(
    make_project: Callable[..., Project],
    store_for: Callable[[Project], Store],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def astray(self: Update, *, batch: Any, routing: Any, ctx: Any) -> None:
        routing.leave_all(batch.journeys, "sideways", "oops")

    monkeypatch.setattr(Update, "run", astray)
    runtime, _ = _touching(make_project, store_for)
    assert runtime.run_until_idle(limit=20) == 3
    [(state, at, reason)] = set(_states(runtime.store))
    assert (state, at) == ("failed", "touch")
    assert reason is not None and reason.startswith(
        "failed: UndeclaredOutput: object 'touch' routed to output 'sideways'"
    )


def test_a_lapsed_claim_keeps_its_error(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    runtime, clock = _touching(make_project, store_for)
    with runtime.store.db.write() as conn:
        claimed = sql.claim(
            conn,
            owner="w0",
            flows=["f"],
            claims_all={},
            now=clock.now(),
            lease=runtime.lease,
            size=100,
        )
        assert claimed is not None
        sql.lapse_claim(conn, claimed.claim_id, "ValueError: x", clock.now())
        conn.execute(update(CLAIMS).values(attempts=3))
    runtime.run_until_idle(limit=5)
    assert {s[2] for s in _states(runtime.store)} == {"failed: ValueError: x (3 attempts)"}
