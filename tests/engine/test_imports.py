"""Imports on SQLite and PostgreSQL: typed upserts with new/changed/unchanged, column mapping,
collections linked to customers, and the bad-input corpus, each with its message, its rejects
file, or a database left untouched."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.errors import InputError
from engine.files import Files, Place
from engine.files.imports import (
    Imported,
    ImportReport,
    ImportSpec,
    SeenKeys,
    TooManyRejects,
    import_csv,
    rejects_place,
    write_rejects,
)
from engine.model.project import Project
from engine.store import Database, Store
from engine.store.customers import load_customers
from engine.store.models import CUSTOMERS, RECORDS

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = """
timezone: UTC
profile:
  first_name: str
  country: str
  newsletter: bool
  birthday: date
  score: int
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str, created_at: datetime}
"""


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    return make_project(SETTINGS)


@pytest.fixture
def store(project: Project, store_for: Callable[[Project], Store]) -> Store:
    """On SQLite and on PostgreSQL."""
    return store_for(project)


@pytest.fixture
def lite(project: Project, tmp_path: Path) -> Iterator[Store]:
    """On SQLite only: for what depends on the file, not the database."""
    made = Store(Database(f"sqlite:///{tmp_path / 'lite.db'}"), project)
    yield made
    made.db.dispose()


def put(project: Project, name: str, data: str | bytes) -> Place:
    path = project.root / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return Files().place(f"in/{name}", project)


def run(
    store: Store, place: Place, spec: ImportSpec | None = None, *, chunk: int = 2, **kw: Any
) -> tuple[ImportReport, list[Imported]]:
    seen: list[Imported] = []
    with store.db.write() as conn:
        report = import_csv(
            conn,
            place,
            spec or ImportSpec(),
            store.project,
            NOW,
            on_chunk=seen.extend,
            chunk=chunk,
            **kw,
        )
    return report, seen


def everyone(store: Store) -> list[dict[str, Any]]:
    with store.db.read() as conn:
        ids = list(conn.execute(select(CUSTOMERS.c.system_id)).scalars())
        found = load_customers(conn, ids, store.project)
    return sorted(found.values(), key=lambda c: c["system_id"])


def records(store: Store) -> list[Any]:
    with store.db.read() as conn:
        table = RECORDS
        return list(conn.execute(select(table).order_by(table.c.key)))


def untouched(store: Store, place: Place, spec: ImportSpec | None = None) -> InputError:
    """Run an import that must fail, and check it wrote nothing."""
    before = everyone(store)
    with pytest.raises(InputError) as caught:
        run(store, place, spec)
    assert everyone(store) == before
    return caught.value


CUSTOMERS_CSV = (
    "external_id,email,first_name,country,newsletter,birthday,score\n"
    "C1,ann@example.com,Ann,NL,true,1990-01-31,3\n"
    "C2,bob@example.com,Bob,BE,false,,\n"
    "C3,cy@example.com,Cy,NL,TRUE,2001-12-01,7\n"
)


def test_import_types_values_and_reports_new_changed_unchanged(
    store: Store, project: Project
) -> None:
    report, stored = run(store, put(project, "c.csv", CUSTOMERS_CSV))
    assert report.counts == {"new": 3, "changed": 0, "unchanged": 0}
    assert report.rows == 3 and report.rejects == []
    ann = everyone(store)[0]
    assert (ann["external_id"], ann["email"], ann["first_name"]) == ("C1", "ann@example.com", "Ann")
    assert ann["newsletter"] is True and ann["birthday"] == date(1990, 1, 31)
    assert ann["score"] == 3
    assert [s.status for s in stored] == ["new"] * 3
    assert stored[0].values["birthday"] == "1990-01-31"
    again = CUSTOMERS_CSV.replace("Bob,BE", "Bob,NL")
    report, stored = run(store, put(project, "c2.csv", again))
    assert report.counts == {"new": 0, "changed": 1, "unchanged": 2}
    assert [(s.customer_id, s.status) for s in stored] == [
        (ann["system_id"], "unchanged"),
        (ann["system_id"] + 1, "changed"),
        (ann["system_id"] + 2, "unchanged"),
    ]


def test_a_reimport_updates_only_what_changed_and_keeps_what_the_file_lacks(
    store: Store, project: Project
) -> None:
    run(store, put(project, "c.csv", CUSTOMERS_CSV))
    before = {c["external_id"]: c for c in everyone(store)}
    later = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    data = "external_id,country,newsletter\nC1,DE,true\nC2,BE,false\nC3,NL,\n"
    with store.db.write() as conn:
        report = import_csv(conn, put(project, "d.csv", data), ImportSpec(), project, later)
    assert report.counts == {"new": 0, "changed": 2, "unchanged": 1}
    after = {c["external_id"]: c for c in everyone(store)}
    assert after["C1"] == {**before["C1"], "country": "DE", "updated_at": later}
    assert after["C2"] == before["C2"]
    assert after["C3"] == {**before["C3"], "newsletter": None, "updated_at": later}


def test_an_empty_cell_for_a_field_a_customer_lacks_changes_nothing(
    store: Store, project: Project
) -> None:
    run(store, put(project, "a.csv", "external_id,first_name\nC1,Ann\n"))
    report, stored = run(store, put(project, "b.csv", "external_id,first_name,score\nC1,Ann,\n"))
    assert report.counts == {"new": 0, "changed": 0, "unchanged": 1}
    assert stored[0].values == {"external_id": "C1", "first_name": "Ann", "score": None}


def test_built_in_fields_change_and_a_shared_email_finds_the_first_customer(
    store: Store, project: Project
) -> None:
    data = "external_id,email,unsubscribed,bounced\nC1,Ann@x.nl,false,none\nC2,ann@X.nl,true,soft\n"
    run(store, put(project, "a.csv", data))
    first, second = everyone(store)
    spec = ImportSpec(key="email")
    report, stored = run(store, put(project, "b.csv", "email,unsubscribed\nANN@x.nl,true\n"), spec)
    assert report.counts == {"new": 0, "changed": 1, "unchanged": 0}
    assert stored[0].customer_id == first["system_id"]
    assert [(c["email"], c["unsubscribed"], c["bounced"]) for c in everyone(store)] == [
        ("ANN@x.nl", True, "none"),
        ("ann@X.nl", True, "soft"),
    ]
    assert everyone(store)[1] == second


def test_empty_unsubscribed_or_bounced_cells_keep_what_is_stored(
    store: Store, project: Project
) -> None:
    data = "external_id,unsubscribed,bounced\nC1,true,soft\nC2,false,none\n"
    run(store, put(project, "a.csv", data))
    blank = "external_id,unsubscribed,bounced,first_name\nC1,,,Ann\nC2,,,Bob\nC3,,,Cy\n"
    report, _ = run(store, put(project, "b.csv", blank))
    assert report.counts == {"new": 1, "changed": 2, "unchanged": 0}
    assert [(c["external_id"], c["unsubscribed"], c["bounced"]) for c in everyone(store)] == [
        ("C1", True, "soft"),
        ("C2", False, "none"),
        ("C3", False, "none"),
    ]


def test_key_system_id_updates_and_never_creates(store: Store, project: Project) -> None:
    run(store, put(project, "a.csv", CUSTOMERS_CSV))
    ann = everyone(store)[0]
    spec = ImportSpec(key="system_id")
    data = f"system_id,first_name\n{ann['system_id']},Anna\n"
    report, _ = run(store, put(project, "b.csv", data), spec)
    assert report.counts == {"new": 0, "changed": 1, "unchanged": 0}
    assert everyone(store)[0]["first_name"] == "Anna"
    error = untouched(store, put(project, "c.csv", f"{data}999,Nobody\n"), spec)
    assert str(error) == (
        "no customer with system_id 999; system_ids are assigned by sluis, so new customers "
        "need external_id or email as key"
    )


def test_columns_map_headers_to_fields_and_others_are_left_out(
    store: Store, project: Project
) -> None:
    data = "Klantnr;Voornaam;Ignored\r\nK1;Els;x\r\nK2;Jan;y\r\n"
    spec = ImportSpec(columns={"Klantnr": "external_id", "Voornaam": "first_name"})
    report, _ = run(store, put(project, "k.csv", data), spec)
    assert report.delimiter == ";" and report.counts["new"] == 2
    assert [(c["external_id"], c["first_name"]) for c in everyone(store)] == [
        ("K1", "Els"),
        ("K2", "Jan"),
    ]


def test_key_on_email_matches_any_case(store: Store, project: Project) -> None:
    run(
        store,
        put(project, "a.csv", "email,first_name\nAnn@Example.com,Ann\n"),
        ImportSpec(key="email"),
    )
    report, _ = run(
        store,
        put(project, "b.csv", "email,first_name\nann@example.COM,Anna\n"),
        ImportSpec(key="email"),
    )
    assert report.counts == {"new": 0, "changed": 1, "unchanged": 0}
    assert [c["first_name"] for c in everyone(store)] == ["Anna"]


def test_an_empty_cell_is_null(lite: Store, project: Project) -> None:
    run(lite, put(project, "a.csv", "external_id,first_name\nC1,Ann\n"))
    run(lite, put(project, "b.csv", "external_id,first_name\nC1,\n"))
    assert everyone(lite)[0]["first_name"] is None


def test_quoted_values_with_delimiters_and_line_breaks(lite: Store, project: Project) -> None:
    data = 'external_id,first_name,country\r\nC1,"Ann, the first","N\nL"\r\n'
    run(lite, put(project, "q.csv", data))
    ann = everyone(lite)[0]
    assert (ann["first_name"], ann["country"]) == ("Ann, the first", "N\nL")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_the_four_encodings(lite: Store, project: Project, encoding: str) -> None:
    data = "external_id,first_name\nC1,Zoë\n".encode(
        "utf-8" if encoding == "utf-8-sig" else encoding
    )
    if encoding == "utf-8-sig":
        data = codecs.BOM_UTF8 + data
    run(lite, put(project, "e.csv", data), ImportSpec(encoding=encoding))
    assert everyone(lite)[0]["first_name"] == "Zoë"


# -- the bad-input corpus ---------------------------------------------------------------------


def test_wrong_encoding_writes_nothing(store: Store, project: Project) -> None:
    data = ("external_id,first_name\n" + "C{n},Ann\n" * 5 + "C9,Zoë\n").replace("{n}", "1")
    rows = "".join(f"C{n},Ann\n" for n in range(5))
    data = f"external_id,first_name\n{rows}C9,Zoë\n"
    error = untouched(store, put(project, "w.csv", data.encode("cp1252")))
    assert "w.csv: line 7 is not valid utf-8 text" in str(error)
    assert "set encoding: cp1252" in str(error)


def test_a_utf8_bom_with_encoding_utf8_is_fine(lite: Store, project: Project) -> None:
    run(lite, put(project, "b.csv", codecs.BOM_UTF8 + b"external_id,first_name\nC1,Ann\n"))
    assert everyone(lite)[0]["external_id"] == "C1"


def test_a_bom_that_contradicts_the_encoding(lite: Store, project: Project) -> None:
    place = put(project, "b.csv", codecs.BOM_UTF8 + b"external_id\nC1\n")
    error = untouched(lite, place, ImportSpec(encoding="latin-1"))
    assert "not latin-1; set encoding: utf-8-sig" in str(error)


def test_mixed_line_endings_import_every_row(lite: Store, project: Project) -> None:
    data = b"external_id,first_name\r\nC1,A\nC2,B\rC3,C\r\n"
    report, _ = run(lite, put(project, "m.csv", data))
    assert report.counts["new"] == 3
    assert [c["first_name"] for c in everyone(lite)] == ["A", "B", "C"]


def test_an_unbalanced_quote_writes_nothing(lite: Store, project: Project) -> None:
    data = 'external_id,first_name\nC1,A\nC2,B\nC3,C\nC4,"D\nC5,E\n'
    error = untouched(lite, put(project, "u.csv", data))
    assert "u.csv: the quoted value that starts on line 5 is never closed" in str(error)


def test_a_missing_key_column(lite: Store, project: Project) -> None:
    error = untouched(lite, put(project, "k.csv", "email,first_name\na@x.nl,A\n"))
    assert str(error) == (
        "in/k.csv: no column for the key field 'external_id'; the header has "
        "email, first_name (read with delimiter comma; set delimiter: when that is wrong)"
    )


def test_a_wrong_delimiter_shows_in_the_missing_key_message(lite: Store, project: Project) -> None:
    place = put(project, "d.csv", "external_id;first_name\nC1;A\n")
    error = untouched(lite, place, ImportSpec(delimiter=","))
    assert "column 'external_id;first_name' is not a customer field" in str(error)


def test_an_unknown_column_names_the_fix(lite: Store, project: Project) -> None:
    error = untouched(lite, put(project, "x.csv", "external_id,frist_name\nC1,A\n"))
    assert "column 'frist_name' is not a customer field; did you mean 'first_name'?" in str(error)
    assert "map it with columns" in str(error)


def test_columns_naming_a_column_the_file_lacks(lite: Store, project: Project) -> None:
    spec = ImportSpec(columns={"Klantnr": "external_id", "Naam": "first_name"})
    error = untouched(lite, put(project, "x.csv", "Klantnr,Nam\nK1,A\n"), spec)
    assert "no column 'Naam' (named in columns); did you mean 'Nam'?" in str(error)


def test_duplicate_keys_reject_the_later_rows(store: Store, project: Project) -> None:
    data = "external_id,first_name\nC1,A\nC2,B\nC1,again\nc1,other case\nC2,B\n"
    place = put(project, "d.csv", data)
    report, _ = run(store, place, ImportSpec(max_rejects=2))
    assert report.counts["new"] == 3
    assert [(r.row, r.column, r.reason) for r in report.rejects] == [
        (4, "external_id", "duplicate key 'C1': it came on row 2"),
        (6, "external_id", "duplicate key 'C2': it came on row 3"),
    ]
    assert [c["first_name"] for c in everyone(store)] == ["A", "B", "other case"]
    write_rejects(report, rejects_place(place))
    with open(project.root / "in" / "d.rejects.csv", newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["row", "column", "reason", "external_id", "first_name"],
            ["4", "external_id", "duplicate key 'C1': it came on row 2", "C1", "again"],
            ["6", "external_id", "duplicate key 'C2': it came on row 3", "C2", "B"],
        ]


@pytest.mark.parametrize("chunk", [2, 100])
def test_type_errors_per_field_are_rejected_with_their_column(
    store: Store, project: Project, chunk: int
) -> None:
    data = (
        "external_id,email,newsletter,birthday,score\n"
        "C1,a@x.nl,true,2000-01-01,1\n"
        "C2,not-an-address,true,2000-01-01,1\n"
        "C3,c@x.nl,perhaps,2000-01-01,1\n"
        "C4,d@x.nl,true,31-01-2000,1\n"
        "C5,e@x.nl,true,2000-01-01,1.5\n"
        ",f@x.nl,true,2000-01-01,1\n"
        "C7,g@x.nl,true\n"
        "C8,h@x.nl,true,2000-01-01,1,,\n"
    )
    report, _ = run(store, put(project, "t.csv", data), ImportSpec(max_rejects=10), chunk=chunk)
    assert [(r.row, r.column, r.reason) for r in report.rejects] == [
        (3, "email", "field 'email': 'not-an-address' is not an e-mail address"),
        (4, "newsletter", "field 'newsletter': expected true or false, got 'perhaps'"),
        (5, "birthday", "field 'birthday': expected a date such as 2026-01-31, got '31-01-2000'"),
        (6, "score", "field 'score': expected a whole number, got '1.5'"),
        (7, "external_id", "no value for the key field 'external_id'"),
        (
            8,
            "",
            "has 3 cells where the header has 5 columns; quote values that hold the "
            "delimiter (comma)",
        ),
    ]
    assert [c["external_id"] for c in everyone(store)] == ["C1", "C8"]


def test_more_rejects_than_allowed_write_nothing(store: Store, project: Project) -> None:
    data = "external_id,score\nC1,1\nC2,x\nC3,3\nC4,y\nC5,5\n"
    place = put(project, "r.csv", data)
    before = everyone(store)
    with pytest.raises(TooManyRejects) as caught:
        run(store, place, ImportSpec(max_rejects=1), chunk=1)
    assert everyone(store) == before
    error = caught.value
    write_rejects(error.report, rejects_place(place))
    assert str(error) == (
        f"{place}: more than 1 row(s) rejected (max_rejects: 1), so nothing was imported; the "
        "first: row 3, column score: field 'score': expected a whole number, got 'x'; the "
        "rejected rows are in in/r.rejects.csv"
    )
    assert (project.root / "in" / "r.rejects.csv").read_text().count("\n") == 3


def test_a_huge_field_writes_nothing(lite: Store, project: Project) -> None:
    data = "external_id,first_name\nC1,A\nC2,B\nC3," + "x" * 200_000 + "\n"
    error = untouched(lite, put(project, "h.csv", data))
    assert "line 4 holds a value longer than 131,072 characters" in str(error)


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", codecs.BOM_UTF8])
def test_an_empty_file(lite: Store, project: Project, data: bytes) -> None:
    error = untouched(lite, put(project, "empty.csv", data))
    assert "empty.csv: the file is empty" in str(error)


def test_a_header_only_file_imports_nothing(lite: Store, project: Project) -> None:
    report, _ = run(lite, put(project, "h.csv", "external_id,first_name\n"))
    assert report.rows == 0 and report.counts == {"new": 0, "changed": 0, "unchanged": 0}


def test_a_missing_file(lite: Store, project: Project) -> None:
    with pytest.raises(Exception, match=r"cannot read .*in/none\.csv: No such file"):
        run(lite, Files().place("in/none.csv", project))


# -- collections ------------------------------------------------------------------------------


def test_records_link_to_customers_and_report_statuses(store: Store, project: Project) -> None:
    run(store, put(project, "c.csv", CUSTOMERS_CSV))
    data = (
        "order_id,customer.external_id,total,status,created_at\n"
        "O1,C1,12.50,paid,2026-01-04T10:00:00+01:00\n"
        "O2,C2,3,open,\n"
        "O3,C9,1,open,\n"
        "O4,,7,open,\n"
    )
    spec = ImportSpec(into="orders", max_rejects=1)
    report, stored = run(store, put(project, "o.csv", data), spec)
    assert report.counts == {"new": 3, "changed": 0, "unchanged": 0}
    assert [(r.row, r.column, r.reason) for r in report.rejects] == [
        (4, "customer.external_id", "no customer with external_id 'C9'; import the customers first")
    ]
    ann, bob = everyone(store)[:2]
    assert [(s.customer_id, s.status) for s in stored] == [
        (ann["system_id"], "new"),
        (bob["system_id"], "new"),
        (None, "new"),
    ]
    found = records(store)
    assert [(r.key, r.customer_id) for r in found] == [
        ("O1", ann["system_id"]),
        ("O2", bob["system_id"]),
        ("O4", None),
    ]
    assert found[0].data == {
        "order_id": "O1",
        "total": "12.50",
        "status": "paid",
        "created_at": "2026-01-04T10:00:00+01:00",
    }
    data2 = "order_id,status\nO1,shipped\nO2,open\n"
    report, stored = run(store, put(project, "o2.csv", data2), ImportSpec(into="orders"))
    assert report.counts == {"new": 0, "changed": 1, "unchanged": 1}
    assert stored[0].customer_id == ann["system_id"]
    assert records(store)[0].data["total"] == "12.50"
    assert Decimal(records(store)[0].data["total"]) == Decimal("12.50")


def test_collection_key_and_unknown_collection(lite: Store, project: Project) -> None:
    place = put(project, "o.csv", "order_id\nO1\n")
    with pytest.raises(InputError, match="keyed on 'order_id', not 'external_id'"):
        run(lite, place, ImportSpec(into="orders", key="external_id"))
    with pytest.raises(
        InputError, match="no collection 'order' in the datamodel; did you mean 'orders'"
    ):
        run(lite, place, ImportSpec(into="order"))


def test_seen_keys_grow_and_find_duplicates() -> None:
    seen = SeenKeys()
    assert all(seen.add(f"C{n}") for n in range(5000))
    assert not any(seen.add(f"C{n}") for n in range(5000))
    assert seen.add(0) and not seen.add(0) and seen.add(1)
    assert len(seen.table) >= 10_000
    # each key keeps the line it came on first, through the table's growth
    lines = SeenKeys()
    assert all(lines.add_all([f"K{n}" for n in range(3000)], list(range(2, 3002))))
    assert lines.add_all(["K7", "new", "new"], [9000, 9001, 9002]) == [False, True, False]
    assert lines.line_of("K7") == 9 and lines.line_of("K2999") == 3001
    assert lines.line_of("new") == 9001 and lines.line_of("absent") is None
    assert seen.line_of("C1") is None  # noted without lines
