"""A flow in the middle of a drain (``sluis start --drain``), for the monitor, TUI and API
tests: version 1 still holds three journeys (two at ``wait-nl``, which version 2 removed, and
one at ``hold``, which both versions have); version 2 holds the two customers who entered
after the deploy, at ``hold``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from engine.model.flow import load_flow, load_flows
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.runner import Runtime
from engine.store import Store
from engine.store.customers import upsert_customers

SETTINGS = "timezone: UTC\nprofile: {country: str}\n"
V1 = """\
objects:
  everyone: {type: selection, next: pick}
  pick:
    type: split
    branches: {nl: 'customer.country == "NL"'}
    next: {nl: wait-nl, otherwise: hold}
  wait-nl: {type: wait, for: 3d, next: hold}
  hold: {type: wait, for: 5d, next: done}
  done: {type: end}
"""
V2 = """\
objects:
  everyone: {type: selection, next: hold}
  hold: {type: wait, for: 5d, next: done}
  done: {type: end}
"""
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _customers(store: Store, project: Project, rows: list[dict[str, Any]]) -> None:
    with store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=project, now=AT)


def draining(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> tuple[Project, Store, Runtime]:
    """The project, its store and the runtime after the drain deploy of flow ``hold``."""
    project = make_project(SETTINGS, {"hold": V1})
    store = store_for(project)
    old = [("C1", "NL"), ("C2", "NL"), ("C3", "BE")]
    _customers(store, project, [{"external_id": c, "country": n} for c, n in old])
    flows, problems = load_flows(project)
    assert not problems, problems
    runtime = Runtime(store, flows, VirtualClock(AT))
    runtime.start("hold")
    runtime.fire_due()
    runtime.run_until_idle()
    (project.flows_dir / "hold.yaml").write_text(V2)
    _customers(store, project, [{"external_id": c, "country": "NL"} for c in ("C4", "C5")])
    runtime.adopt(load_flow(project.flows_dir / "hold.yaml", project))
    runtime.start("hold", drain=True)  # its selection fires: C4 and C5 enter version 2
    runtime.fire_due()
    runtime.run_until_idle()
    return project, store, runtime
