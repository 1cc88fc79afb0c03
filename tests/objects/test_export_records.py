"""The export object with datamodel records: ``from:`` (one row per record of the batch's
customers) and record aggregates as customer columns (``{{ EXPRESSION }}`` or ``expression:``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.errors import FlowError
from engine.model.flow import load_flow
from engine.model.project import Project

SETTINGS = """\
timezone: UTC
profile: {first_name: str}
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str, created_at: datetime}
"""
FLOW = """\
name: f
objects:
  start:
    type: selection
    next: per-customer
  per-customer:
    type: export
    to: customers.csv
    next: per-order
    columns:
      - external_id
      - {header: paid, value: '{{ count(records.orders where status == "paid") }}'}
      - {header: spent, expression: sum(records.orders.total)}
      - {header: last, value: '{{ records.orders[0].key }}'}
  per-order:
    type: export
    from: orders
    to: orders.csv
    columns: [key, total, customer.external_id]
"""
ORDERS = (
    "customer,order_id,total,status,created_at\n"
    "C1,o1,10.50,paid,2026-01-01T10:00:00Z\n"
    "C1,o2,99,open,2026-01-03T10:00:00Z\n"
    "C2,o3,7,paid,2026-01-02T10:00:00Z\n"
)
CUSTOMERS = ["external_id,first_name", "C1,Ann", "C2,Bob", "C3,Cy"]


def play(make_project: Callable[..., Project], replay_on: Any, tmp_path: Path, name: str) -> str:
    project = make_project(SETTINGS, flows={"f": FLOW})
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    session = replay_on(project, "f", CUSTOMERS, until="1h", records=[("orders", orders)])
    (written,) = list(session.folder.rglob(name))
    return str(written.read_text())


def test_record_aggregates_as_columns(
    make_project: Callable[..., Project], replay_on: Any, tmp_path: Path
) -> None:
    text = play(make_project, replay_on, tmp_path, "customers.csv")
    assert text.splitlines() == [
        "external_id,paid,spent,last",
        "C1,1,109.50,o2",
        "C2,1,7,o3",
        "C3,0,0,",
    ]


def test_export_from_a_collection(
    make_project: Callable[..., Project], replay_on: Any, tmp_path: Path
) -> None:
    text = play(make_project, replay_on, tmp_path, "orders.csv")
    assert text.splitlines() == [
        "key,total,customer.external_id",
        "o2,99,C1",
        "o1,10.50,C1",
        "o3,7,C2",
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "from: orders",
            "from: order",
            "no collection 'order' in the datamodel; did you mean 'orders'?",
        ),
        ("[key, total,", "[key, totl,", "column 'totl' is not a field of collection 'orders'"),
        (
            "expression: sum(records.orders.total)",
            "expression: sum(records.orders.totl)",
            "unknown field 'totl'",
        ),
        (
            "{{ count(records.orders where",
            "{{ count(records.order where",
            "unknown collection 'order'",
        ),
        (
            "{header: spent, expression: sum(records.orders.total)}",
            "{header: spent}",
            "needs either value: or expression:",
        ),
    ],
)
def test_wrong_names_at_validation(
    make_project: Callable[..., Project], old: str, new: str, message: str
) -> None:
    project = make_project(SETTINGS)
    path = project.flows_dir / "f.yaml"
    path.write_text(FLOW.replace(old, new))
    with pytest.raises(FlowError) as caught:
        load_flow(path, project)
    assert any(message in p.message for p in caught.value.problems), caught.value.problems
