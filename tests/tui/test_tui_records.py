"""A customer opened from the object panel shows its datamodel records, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from textual.widgets import DataTable

from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.store import Store
from engine.store.customers import find_ids
from engine.store.records import upsert_records
from tui.app import create_app
from tui.customer_screen import CustomerScreen

pytestmark = pytest.mark.anyio


async def test_a_customer_shows_its_records(
    example_project: Project, seeded_store: Store, clock: VirtualClock
) -> None:
    with seeded_store.db.write() as conn:
        (customer,) = find_ids(conn, "external_id", ["C006"]).values()
        rows = [
            (
                {
                    "order_id": "O-1",
                    "total": Decimal("12.50"),
                    "status": "paid",
                    "created_at": datetime(2026, 1, 2, 10, tzinfo=UTC),
                },
                customer,
            ),
            (
                {
                    "order_id": "O-2",
                    "total": Decimal("99"),
                    "status": "open",
                    "created_at": datetime(2026, 1, 4, 8, tzinfo=UTC),
                },
                customer,
            ),
        ]
        upsert_records(conn, "orders", rows, project=seeded_store.project, now=datetime.now(UTC))
    app = create_app(example_project, seeded_store, clock, flow="welcome")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.settle()
        await pilot.press("down", "down", "enter")
        await app.settle()
        app.query_one("#waiting", DataTable).focus()
        await pilot.press("down", "enter")
        await app.settle()
        screen = app.screen
        assert isinstance(screen, CustomerScreen)
        table = screen.query_one("#records-orders", DataTable)
        found = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert found == [
            ["O-2", "2026-01-04 08:00", "O-2", "99", "open"],
            ["O-1", "2026-01-02 10:00", "O-1", "12.50", "paid"],
        ]
