"""``sluis import`` and ``sluis export``: summaries, one-line errors with a non-zero exit, and
nothing half-written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clirun import run_sluis
from sftpd import SftpServer
from sqlalchemy import create_engine, text

from engine.model.project import Project

SETTINGS = """
database: sqlite:///sluis.db
timezone: UTC
profile: {first_name: str, country: str}
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal}
"""
FILE = "Klantnr;Mail;Naam;Land\nC1;a@x.nl;Ann;nl\nC2;b@x.nl;Bob;be\nC3;bad;Cy;nl\n"
COLUMNS = "Klantnr=external_id,Mail=email,Naam=first_name,Land=country"

Sluis = Callable[..., tuple[int, str, str]]


@pytest.fixture
def sluis(
    make_project: Callable[..., Project],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Sluis:
    project = make_project(SETTINGS)
    monkeypatch.chdir(project.root)

    def run(*args: str) -> tuple[int, str, str]:
        return run_sluis(monkeypatch, capsys, *args)

    return run


def customers() -> list[tuple[str, str]]:
    engine = create_engine("sqlite:///sluis.db")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, email FROM customers ORDER BY system_id"))
        found = [(r[0], r[1]) for r in rows]
    engine.dispose()
    return found


def test_import_with_a_summary_and_a_rejects_file(sluis: Sluis) -> None:
    Path("in.csv").write_text(FILE)
    code, out, err = sluis("import", "in.csv", "--columns", COLUMNS, "--max-rejects", "1")
    assert code == 0, err
    assert "imported file://" in out and "in.csv" in out
    assert "│ 2   │ 0       │ 0         │ 1        │" in out
    assert "rejected rows:" in out and Path("in.rejects.csv").exists()
    assert customers() == [("C1", "a@x.nl"), ("C2", "b@x.nl")]


def test_a_failed_import_is_one_line_and_writes_nothing(sluis: Sluis) -> None:
    Path("in.csv").write_text(FILE)
    code, _, err = sluis("import", "in.csv", "--columns", COLUMNS)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: file://")
    assert "more than 0 row(s) rejected (max_rejects: 0), so nothing was imported" in err
    assert "Traceback" not in err
    code, _, _ = sluis("export", "--columns", "external_id", "--to", "out.csv")
    assert code == 0 and Path("out.csv").read_bytes() == b"external_id\r\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "none.csv"], "none.csv: no such file"),
        (
            ["import", "in.csv", "--into", "order"],
            "no collection 'order' in the datamodel; did you mean 'orders'",
        ),
        (["import", "in.csv", "--key", "name"], "customers are matched on external_id, email"),
        (["import", "in.csv", "--columns", "Klantnr"], "--columns 'Klantnr' is not HEADER=FIELD"),
        (["import", "in.csv", "--delimiter", "::"], "--delimiter '::' is not one character"),
        (
            ["import", "in.csv", "--encoding", "utf-16"],
            "--encoding utf-16 is not one of utf-8, utf-8-sig, cp1252, latin-1",
        ),
        (["import", "../x/../../etc/passwd.csv"], "no such file"),
        (["export", "--columns", "emial", "--to", "o.csv"], "did you mean 'email'?"),
        (["export", "--columns", "email", "--where", "customer.", "--to", "o.csv"], "--where:"),
        (
            ["export", "--columns", "email", "--where", "customer.country < 3", "--to", "o.csv"],
            "--where: cannot compare text with number",
        ),
        (
            ["export", "--columns", "email", "--to", "sftp://crm/x.csv"],
            "unknown connection 'crm'",
        ),
        (
            ["export", "--columns", "email", "--to", "out_{{ nope }}.csv"],
            "unknown template variable 'nope'",
        ),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    sluis: Sluis, args: list[str], message: str
) -> None:
    Path("in.csv").write_text(FILE)
    code, _, err = sluis(*args)
    assert code != 0
    assert message in err and err.count("\n") == 1, err
    assert not Path("o.csv").exists()


def test_export_chooses_customers_and_never_overwrites(sluis: Sluis) -> None:
    Path("in.csv").write_text(FILE)
    sluis("import", "in.csv", "--columns", COLUMNS, "--max-rejects", "1")
    Path("out").mkdir()
    Path("out/nl.csv").write_text("keep\n")
    code, out, err = sluis(
        "export",
        "--where",
        'customer.country == "nl"',
        "--columns",
        "external_id,email",
        "--columns",
        "Land={{ customer.country|upper }}",
        "--delimiter",
        ";",
        "--to",
        "out/nl.csv",
    )
    assert code == 0, err
    assert "out/nl-2.csv" in out
    assert Path("out/nl.csv").read_text() == "keep\n"
    assert Path("out/nl-2.csv").read_bytes() == b"external_id;email;Land\r\nC1;a@x.nl;NL\r\n"


def test_import_from_and_export_to_sftp(
    sluis: Sluis, sftp: SftpServer, make_project: Callable[..., Project]
) -> None:
    Path("sluis.yaml").write_text(SETTINGS + "connections:\n" + sftp.connection())
    (sftp.files / "in.csv").write_text(FILE)
    code, _, err = sluis("import", "sftp://crm/in.csv", "--columns", COLUMNS, "--max-rejects", "1")
    assert code == 0, err
    assert (sftp.files / "in.rejects.csv").exists()
    code, _, err = sluis("export", "--columns", "external_id", "--to", "sftp://crm/out/all.csv")
    assert code == 0, err
    assert (sftp.files / "out" / "all.csv").read_bytes() == b"external_id\r\nC1\r\nC2\r\n"


@pytest.mark.postgres
def test_a_large_import_leaves_postgresql_statistics_of_the_new_size(
    sluis: Sluis, clean_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUIS_DATABASE_URL", clean_postgres_url)
    rows = "".join(f"C{n};c{n}@x.nl;Ann;nl\n" for n in range(1500))
    Path("in.csv").write_text("Klantnr;Mail;Naam;Land\n" + rows)
    code, _, err = sluis("import", "in.csv", "--columns", COLUMNS)
    assert code == 0, err
    engine = create_engine(clean_postgres_url)
    with engine.connect() as conn:
        known = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'customers'")
        ).scalar()
    engine.dispose()
    assert known == 1500  # analyzed: the planner knows the new size at once


def test_an_import_rejects_values_longer_than_their_column_takes(sluis: Sluis) -> None:
    long = "C" * 201
    Path("in.csv").write_text(f"Klantnr;Mail;Naam;Land\nC1;a@x.nl;Ann;nl\n{long};b@x.nl;Bob;be\n")
    code, _, err = sluis("import", "in.csv", "--columns", COLUMNS, "--max-rejects", "1")
    assert code == 0, err
    assert (
        "field 'external_id' holds 201 characters; at most 200 are stored"
        in Path("in.rejects.csv").read_text()
    )
    assert customers() == [("C1", "a@x.nl")]
