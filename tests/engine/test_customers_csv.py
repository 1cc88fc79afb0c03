"""``--customers`` CSVs (replay, start) are typed and stored a chunk of rows at a time: the
customers stored, their system_ids and the errors are those of one chunk holding every row,
and a bad row in a later chunk leaves nothing written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import InputError
from engine.files.customers_csv import load_customers_csv
from engine.model.project import Project
from engine.store import Database, Store
from engine.store.models import CUSTOMERS

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = "timezone: UTC\nprofile: {first_name: str, visits: int}\n"
ROWS = [
    "C1,a@x.nl,Ann,1",
    "C2,b@x.nl,Bob,2",
    "C3,c@x.nl,Cy,",
    "C1,a@x.nl,Anna,4",  # C1 again, in a later chunk of two: the later row wins
    "C4,d@x.nl,Di,5",
]


def _stored(store: Store) -> list[tuple[object, ...]]:
    table = CUSTOMERS
    query = select(table.c.system_id, table.c.external_id, table.c.email, table.c.profile)
    with store.db.read() as conn:
        return [tuple(row) for row in conn.execute(query.order_by(table.c.system_id))]


def _load(store: Store, project: Project, path: Path, chunk: int) -> list[int]:
    with store.db.write() as conn:
        return load_customers_csv(conn, path, project, START, chunk=chunk)


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    made: Project = make_project(SETTINGS)
    return made


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(["external_id,email,first_name,visits", *rows]) + "\n")
    return path


def test_chunks_store_what_one_chunk_stores(
    project: Project, store_for: Callable[[Project], Store], tmp_path: Path
) -> None:
    path = _csv(tmp_path, ROWS)
    chunked = store_for(project)
    chunked.db.create_schema()
    ids = _load(chunked, project, path, chunk=2)
    whole = Store(Database(f"sqlite:///{tmp_path / 'whole.db'}"), project)
    whole.db.create_schema()
    assert ids == _load(whole, project, path, chunk=1000) == [1, 2, 3, 1, 4]
    assert _stored(chunked) == _stored(whole)
    assert _stored(chunked)[0][3] == {"first_name": "Anna", "visits": 4}
    whole.db.dispose()


def test_a_bad_row_in_a_later_chunk_names_its_line_and_writes_nothing(
    project: Project, store_for: Callable[[Project], Store], tmp_path: Path
) -> None:
    path = _csv(tmp_path, [*ROWS, "C5,e@x.nl,Ed,many"])
    store = store_for(project)
    store.db.create_schema()
    with pytest.raises(InputError, match=r"customers\.csv:7: field 'visits'"):
        _load(store, project, path, chunk=2)
    assert _stored(store) == []
