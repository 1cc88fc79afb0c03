"""``--customers`` CSVs (replay, start, retry) are typed and stored a chunk of rows at a time: the
customers stored, their system_ids and the errors are those of one chunk holding every row,
and a bad row in a later chunk leaves nothing written. A key that comes again is one customer
(its later row wins); a customer already stored keeps what the file does not name."""

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


def _refused(
    project: Project, store_for: Callable[[Project], Store], path: Path, error: str, chunk: int
) -> None:
    """Loading ``path`` fails with ``error`` and stores no customer."""
    store = store_for(project)
    store.db.create_schema()
    with pytest.raises(InputError, match=error):
        _load(store, project, path, chunk=chunk)
    assert _stored(store) == []


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
    _refused(project, store_for, path, r"customers\.csv:7: field 'visits'", chunk=2)


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (",e@x.nl,Ed,1", r"customers\.csv:4: no external_id; every customer needs one"),
        ("C5,not-an-address,Ed,1", r"customers\.csv:4: .*not-an-address"),
        ("C5,e@x.nl,Ed,1,extra", r"customers\.csv:4: more cells than header columns"),
        ("C5,e@x.nl,Ed,x", r"customers\.csv:4: field 'visits': expected a whole number"),
    ],
)
def test_the_first_bad_row_is_named_with_its_reason(
    project: Project, store_for: Callable[[Project], Store], tmp_path: Path, row: str, error: str
) -> None:
    path = _csv(tmp_path, [*ROWS[:2], row, ",f@x.nl,Fay,many"])  # a later bad row is not named
    _refused(project, store_for, path, error, chunk=1000)


def test_missing_cells_are_null_and_emails_in_any_case_are_one_customer(
    project: Project, store_for: Callable[[Project], Store], tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("email,first_name,visits\nA@x.nl,Ann,1\nb@x.nl,Bob\na@X.nl,,3\n")
    store = store_for(project)
    store.db.create_schema()
    assert _load(store, project, path, chunk=1000) == [1, 2, 1]
    assert [row[2:] for row in _stored(store)] == [
        ("a@X.nl", {"first_name": None, "visits": 3}),  # the later row, blanks and all
        ("b@x.nl", {"first_name": "Bob", "visits": None}),
    ]


def test_a_customer_already_stored_keeps_what_the_file_does_not_name(
    project: Project, store_for: Callable[[Project], Store], tmp_path: Path
) -> None:
    """`sluis start --customers` on a live store: the file's fields are written, the rest of
    each customer stays (its other profile fields, its subscription)."""
    store = store_for(project)
    store.db.create_schema()
    first = tmp_path / "first.csv"
    first.write_text("external_id,email,first_name,visits,unsubscribed\nC1,a@x.nl,Ann,1,true\n")
    _load(store, project, first, chunk=1000)
    second = tmp_path / "second.csv"
    second.write_text("external_id,visits,unsubscribed\nC1,7,\nC2,2,\n")
    assert _load(store, project, second, chunk=1000) == [1, 2]
    table = CUSTOMERS
    with store.db.read() as conn:
        rows = conn.execute(
            select(table.c.external_id, table.c.unsubscribed, table.c.profile).order_by(
                table.c.system_id
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("C1", True, {"first_name": "Ann", "visits": 7}),
        ("C2", False, {"visits": 2}),
    ]


def test_a_column_that_is_no_field_is_named_with_the_file(
    project: Project, store_for: Callable[[Project], Store], tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("external_id,first_nmae\nC1,Ann\n")
    _refused(
        project, store_for, path, r"customers\.csv: unknown customer field 'first_nmae'", chunk=1000
    )
