"""Templates with records (issue 15, benchmark c): a batch of 1,000 customers (8 orders each)
rendering a template with their last 3 orders (``records.orders`` with ``records_limit: 3``,
loaded for the whole batch in one query), against the same batch rendering the same text
without records: the 3 orders already in each journey's entry data (``data.orders``, as a
webhook brings them; built before the clock starts). Both sides load the batch's customers as
the runtime does, on a SQLite file, with the garbage collector set as the runtime sets it;
the ratio is the per-customer cost with records over the cost without (target: within 2x),
each the fastest of ``ROUNDS`` batches (on a shared machine, a sum of sub-second figures says
more about the neighbours than about the code)."""

from __future__ import annotations

import gc
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.harness import Result, peak_rss_mb, scenario, timer

SETTINGS = """
timezone: UTC
profile: {first_name: str, country: str}
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str, created_at: datetime}
"""
FLOW = """
name: f
objects:
  start: {type: selection, next: tell}
  tell:
    type: http-request
    url: "http://127.0.0.1:1/{{ customer.external_id }}"
    records_limit: 3
"""
WITH_RECORDS = (
    "Dear {{ customer.first_name }}, your last orders: "
    "{% for o in records.orders %}{{ o.key }} ({{ o.total }}, {{ o.created_at|date('%d-%m') }})"
    "{% if not loop.last %}, {% endif %}{% endfor %}"
)
WITHOUT_RECORDS = WITH_RECORDS.replace("records.orders", "data.orders")
ORDERS_EACH = 8
ROUNDS = 5


def _project(folder: Path) -> Any:
    from engine.model.project import Project

    (folder / "flows").mkdir(parents=True)
    (folder / "templates").mkdir()
    (folder / "sluis.yaml").write_text(textwrap.dedent(SETTINGS))
    (folder / "flows" / "f.yaml").write_text(textwrap.dedent(FLOW))
    return Project.load(folder)


def _seed(store: Any, count: int) -> list[int]:
    from engine.store.customers import upsert_customers
    from engine.store.records import upsert_records

    now = datetime(2026, 1, 5, tzinfo=UTC)
    with store.db.write() as conn:
        rows = [
            {"external_id": f"C{i:05d}", "first_name": f"N{i}", "country": "NL"}
            for i in range(count)
        ]
        ids = [
            sid
            for sid, _ in upsert_customers(
                conn, rows, key="external_id", project=store.project, now=now
            )
        ]
        orders = [
            (
                {
                    "order_id": f"O{sid}-{n}",
                    "total": Decimal(f"{10 + n}.50"),
                    "status": "paid",
                    "created_at": now - timedelta(days=n * 7 + sid % 5),
                },
                sid,
            )
            for sid in ids
            for n in range(ORDERS_EACH)
        ]
        upsert_records(conn, "orders", orders, project=store.project, now=now)
    return ids


def _render_batch(
    store: Any, flow: Any, ids: list[int], source: str, data: dict[int, Any] | None = None
) -> list[str]:
    """What a batch does: load its customers, then render the template per journey."""
    from engine.model.templates import Template
    from engine.sdk.batch import Journey
    from engine.sdk.context import RunContext
    from engine.store.customers import load_customers

    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    with store.db.read() as conn:
        customers = load_customers(conn, ids, store.project)
    given = data or {}
    journeys = [Journey(i, customers[i], given.get(i, {}), now, now, "start") for i in ids]
    ctx = RunContext(
        now=now,
        project=store.project,
        flow=flow,
        object_id="tell",
        store=store,
        effects=None,  # type: ignore[arg-type]
    )
    ctx.batch_customers = ids
    template = Template.parse(source)
    return [template.render(ctx.scope(journey)) for journey in journeys]


def _entry_data(store: Any, ids: list[int]) -> dict[int, Any]:
    """Each customer's 3 newest orders as entry data (the baseline's input; not timed)."""
    from engine.store.recordsets import records_of_customers

    with store.db.read() as conn:
        found = records_of_customers(conn, "orders", ids, store.project, 3)
    return {i: {"orders": list(found.get(i, ()))} for i in ids}


@contextmanager
def runtime_collector() -> Iterator[None]:
    """The garbage collector as a worker running batches has it (``tune_collector``), with
    what was set up before left out of collections as a worker's start-up is; as before
    afterwards (the harness runs other scenarios in this process)."""
    from engine.runtime.gctune import tune_collector

    thresholds = gc.get_threshold()
    gc.collect()
    tune_collector()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@scenario("records")
def run(scale: float) -> list[Result]:
    from engine.model.flow import find_flow
    from engine.store import Database, Store

    count = max(10, int(1000 * scale))
    with tempfile.TemporaryDirectory(prefix="sluis-bench-records-") as tmp:
        project = _project(Path(tmp) / "project")
        store = Store(Database(f"sqlite:///{Path(tmp) / 'bench.db'}"), project)
        try:
            ids = _seed(store, count)
            flow = find_flow(project, "f")
            with_records = _render_batch(store, flow, ids, WITH_RECORDS)  # warm both
            data = _entry_data(store, ids)
            assert _render_batch(store, flow, ids, WITHOUT_RECORDS, data) == with_records
            # correctness: each customer's 3 newest orders, newest first
            first = with_records[0]
            assert f"O{ids[0]}-0 (10.50" in first and f"O{ids[0]}-2 (12.50" in first, first
            assert f"O{ids[0]}-3" not in first, first
            engine = baseline = float("inf")
            with runtime_collector():
                for _ in range(ROUNDS):  # interleaved, so load on the machine hits both alike
                    with timer() as t:
                        _render_batch(store, flow, ids, WITH_RECORDS)
                    engine = min(engine, t[0])
                    with timer() as t:
                        _render_batch(store, flow, ids, WITHOUT_RECORDS, data)
                    baseline = min(baseline, t[0])
        finally:
            store.db.dispose()
    per = 1e6 / count
    return [
        Result(
            "render a batch with the last 3 orders",
            "µs/customer",
            engine * per,
            baseline * per,
            higher_is_better=False,
            target="<= 2x",
            notes={
                "customers": f"{count:,}",
                "orders": f"{count * ORDERS_EACH:,}",
                "peak_mb": f"{peak_rss_mb():.0f}",
            },
        )
    ]
