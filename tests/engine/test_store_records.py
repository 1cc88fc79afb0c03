"""Datamodel records and customer erasure in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.errors import InputError
from engine.model.project import Project
from engine.store import Store
from engine.store.customers import add_to_groups, upsert_customers
from engine.store.erasure import erase_customers
from engine.store.events import add_events
from engine.store.journeys import NewJourney, enter
from engine.store.models import EVENTS, JOURNEYS, MEMBERSHIPS, RECORDS, SEND_LOG, STEPS
from engine.store.records import (
    delete_record,
    get_record,
    list_records,
    typed_record,
    upsert_records,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SETTINGS = """\
timezone: UTC
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, paid: bool, items: int, at: datetime}
"""


@pytest.fixture
def store(make_project: Callable[..., Project], store_for: Callable[[Project], Store]) -> Store:
    return store_for(make_project(SETTINGS))


def test_upsert_merges_fields_and_reports_status(store: Store) -> None:
    p = store.project
    first = typed_record("orders", {"order_id": "O1", "total": "9.90", "items": "2"}, p)
    assert first["total"] == Decimal("9.90") and first["items"] == 2
    with store.db.write() as conn:
        made = upsert_records(conn, "orders", [(first, None)], project=p, now=NOW)
        again = upsert_records(
            conn,
            "orders",
            [({"order_id": "O1", "paid": True}, 7), ({"order_id": "O1", "paid": True}, None)],
            project=p,
            now=NOW,
        )
        same = upsert_records(conn, "orders", [({"order_id": "O1"}, None)], project=p, now=NOW)
        record = get_record(conn, "orders", "O1")
    assert made[0][1] == "new"
    assert [s for _, s in again] == ["changed", "changed"] and again[0][0] == made[0][0]
    assert same[0][1] == "unchanged"
    assert record is not None and record["customer_id"] == 7
    assert record["data"] == {"order_id": "O1", "total": "9.90", "items": 2, "paid": True}


def test_list_by_customer_and_typed_filters(store: Store) -> None:
    p = store.project
    rows = [
        ({"order_id": f"O{i}", "paid": i % 2 == 0, "items": i, "total": Decimal("1.50")}, i % 3)
        for i in range(6)
    ]
    with store.db.write() as conn:
        upsert_records(conn, "orders", rows, project=p, now=NOW)
    with store.db.read() as conn:
        paid = list_records(conn, "orders", project=p, where={"paid": True})
        three = list_records(conn, "orders", project=p, where={"items": 3})
        cheap = list_records(conn, "orders", project=p, where={"total": Decimal("1.50")})
        mine = list_records(conn, "orders", project=p, customer_id=1)
        after = list_records(conn, "orders", project=p, after_id=paid[0]["id"], limit=2)
    assert [r["key"] for r in paid] == ["O0", "O2", "O4"]
    assert [r["key"] for r in three] == ["O3"]
    assert len(cheap) == 6
    assert [r["key"] for r in mine] == ["O1", "O4"]
    assert [r["key"] for r in after] == ["O1", "O2"]


def test_record_input_errors(store: Store) -> None:
    with pytest.raises(InputError, match="did you mean 'orders'"):
        typed_record("order", {}, store.project)
    with pytest.raises(InputError, match="unknown field 'colour'"):
        typed_record("orders", {"colour": "red"}, store.project)
    with pytest.raises(InputError, match="field 'total': expected a decimal"):
        typed_record("orders", {"total": "ten"}, store.project)
    with store.db.write() as conn, pytest.raises(InputError, match="missing key"):
        upsert_records(conn, "orders", [({"paid": True}, None)], project=store.project, now=NOW)


def test_delete_record(store: Store) -> None:
    with store.db.write() as conn:
        upsert_records(conn, "orders", [({"order_id": "O1"}, None)], project=store.project, now=NOW)
        assert delete_record(conn, "orders", "O1") is True
        assert delete_record(conn, "orders", "O1") is False
        assert get_record(conn, "orders", "O1") is None


def test_erasure_removes_every_trace_and_only_of_that_customer(store: Store) -> None:
    p = store.project
    with store.db.write() as conn:
        [(gone, _), (kept, _)] = upsert_customers(
            conn,
            [{"external_id": "A"}, {"external_id": "B"}],
            key="external_id",
            project=p,
            now=NOW,
        )
        add_to_groups(conn, [gone, kept], ["vip"], NOW)
        upsert_records(
            conn,
            "orders",
            [({"order_id": "O1"}, gone), ({"order_id": "O2"}, kept)],
            project=p,
            now=NOW,
        )
        journeys = enter(
            conn,
            "f",
            "start",
            [NewJourney(c, {}, "start", "in", "out", "next") for c in (gone, kept)],
            NOW,
        )
        conn.execute(
            SEND_LOG.insert(),
            [
                {"journey_id": j, "object": "mail", "state": "sent", "message_id": "m", "at": NOW}
                for j in journeys
            ],
        )
        add_events(
            conn,
            [
                {"kind": "sent", "at": NOW, "customer_id": c, "journey_id": j}
                for c, j in zip((gone, kept), journeys, strict=True)
            ],
        )
        counts = erase_customers(conn, [gone, 999])
    assert counts == {
        "customers": 1,
        "memberships": 1,
        "records": 1,
        "journeys": 1,
        "steps": 1,
        "send_log": 1,
        "events": 1,
    }
    with store.db.read() as conn:
        for table in (MEMBERSHIPS, RECORDS, JOURNEYS, STEPS, SEND_LOG, EVENTS):
            left = conn.execute(select(func.count()).select_from(table)).scalar()
            assert left == 1, table.name
