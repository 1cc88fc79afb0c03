"""Cells of exports of plain customer fields: ``chunk_cells`` makes a chunk of field values the
CSV cells ``cell_text`` gives, a column at a time, for values as Python has them and as each
database gives them (``matching_rows``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from engine.files.exports import cell_text, chunk_cells
from engine.model.project import Project
from engine.store import Store
from engine.store.customers import upsert_customers
from engine.store.segments import matching_rows

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _written(rows: Any) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def test_chunk_cells_writes_what_cell_text_gives() -> None:
    rows = [
        (1, "a", True, date(2026, 1, 2), Decimal("1.50"), 2.5, None, ["x", "y"], {"k": 1}),
        (2, "b,c", False, None, None, None, "t", [], None),
        (3, None, None, datetime(2026, 1, 2, 3, 4, tzinfo=UTC), Decimal("-0"), 0.1, 7, None, {}),
    ]
    expected = [[cell_text(value) for value in row] for row in rows]
    assert _written(chunk_cells(rows)) == _written(expected)
    assert list(chunk_cells(rows)[0])[2:4] == ["true", "2026-01-02"]


def test_a_chunk_of_text_and_numbers_is_written_as_it_is() -> None:
    rows = [(1, "a", None, 2.5, Decimal("3.10")), (2, None, "b", None, None)]
    assert chunk_cells(rows) is rows
    assert chunk_cells([]) == []


def test_cells_of_fields_as_each_database_reads_them(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    """Fields read from typed columns and from the JSON, built-in fields, and a value stored
    before a field's type changed: the cells equal ``cell_text`` of the customers' values."""
    project = make_project(
        "timezone: UTC\nprofile: {country: str, score: int, vip: bool, born: date, "
        "spent: decimal, ratio: float}\n"
    )
    store = store_for(project)
    rows: list[dict[str, Any]] = [
        {
            "external_id": "a",
            "country": "NL",
            "score": 5,
            "vip": True,
            "born": "1990-02-03",
            "spent": "12.50",
            "ratio": 0.5,
        },
        {"external_id": "b", "country": None, "score": None, "vip": False},
        {"external_id": "c,d", "country": 'quote " and, comma', "score": 0, "ratio": 2.0},
    ]
    with store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=project, now=NOW)
        conn.execute(  # as a profile of another type left it
            text("UPDATE customers SET profile = :p WHERE external_id = 'b'"),
            {"p": '{"country": {"a": [1]}, "score": "many", "vip": "yes", "ratio": true}'},
        )
    fields = ["system_id", "external_id", "unsubscribed", "created_at", *project.settings.profile]
    with store.db.read() as conn:
        chunks = list(
            matching_rows(conn, project, None, fields, now=NOW, today=NOW.date(), chunk=2)
        )
    values = [row for _, chunk in chunks for row in chunk]
    written = "".join(_written(chunk_cells(chunk)) for _, chunk in chunks)
    assert written == _written([[cell_text(value) for value in row] for row in values])
    assert len(values) == 3
    assert ",true," in written and "1990-02-03" in written and "12.50" in written


def test_rows_without_system_id_still_say_where_they_are(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    """An export without the system_id column gets rows of just its fields, each chunk with
    the last system_id it holds (for progress)."""
    project = make_project("timezone: UTC\nprofile: {vip: bool}\n")
    store = store_for(project)
    rows = [{"external_id": f"e{i}", "vip": i % 2 == 0} for i in range(5)]
    with store.db.write() as conn:
        ids = [
            i for i, _ in upsert_customers(conn, rows, key="external_id", project=project, now=NOW)
        ]
    with store.db.read() as conn:
        chunks = list(
            matching_rows(
                conn, project, None, ["external_id", "vip"], now=NOW, today=NOW.date(), chunk=2
            )
        )
    assert [last for last, _ in chunks] == [ids[1], ids[3], ids[4]]
    assert [tuple(row) for _, chunk in chunks for row in chunk] == [
        (f"e{i}", i % 2 == 0) for i in range(5)
    ]
