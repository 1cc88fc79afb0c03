"""``sluis export --from COLLECTION`` (one row per record) and record aggregates as customer
export columns; wrong names are one-line errors with the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clirun import run_sluis

from engine.model.project import Project

SETTINGS = """
database: sqlite:///sluis.db
timezone: UTC
profile: {first_name: str}
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str, created_at: datetime}
"""
CUSTOMERS = "external_id,email,first_name\nC1,a@x.nl,Ann\nC2,b@x.nl,Bob\nC3,c@x.nl,Cy\n"
ORDERS = (
    "customer.external_id,order_id,total,status,created_at\n"
    "C1,o1,10.50,paid,2026-01-01T10:00:00Z\n"
    "C1,o2,99,open,2026-01-03T10:00:00Z\n"
    "C2,o3,7,paid,2026-01-02T10:00:00Z\n"
)

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

    Path("customers.csv").write_text(CUSTOMERS)
    Path("orders.csv").write_text(ORDERS)
    assert run("import", "customers.csv", "--into", "customers", "--key", "external_id")[0] == 0
    assert run("import", "orders.csv", "--into", "orders", "--key", "order_id")[0] == 0
    return run


def test_export_of_records_with_customer_fields(sluis: Sluis) -> None:
    code, _, err = sluis(
        "export", "--from", "orders", "--to", "out.csv", "--columns", "key,total,customer.email"
    )
    assert code == 0, err
    assert Path("out.csv").read_text().splitlines() == [
        "key,total,customer.email",
        "o1,10.50,a@x.nl",
        "o2,99,a@x.nl",
        "o3,7,b@x.nl",
    ]
    code, _, err = sluis(
        "export",
        "--from",
        "orders",
        "--to",
        "paid.csv",
        "--columns",
        "key,created_at",
        "--where",
        'status == "paid" and customer.first_name != "Bob"',
    )
    assert code == 0, err
    assert Path("paid.csv").read_text().splitlines() == [
        "key,created_at",
        "o1,2026-01-01T10:00:00+00:00",
    ]


def test_record_aggregates_as_customer_columns(sluis: Sluis) -> None:
    code, _, err = sluis(
        "export",
        "--to",
        "c.csv",
        "--columns",
        "external_id",
        "--columns",
        'paid={{ count(records.orders where status == "paid") }}',
        "--columns",
        "spent={{ sum(records.orders.total) }}",
        "--columns",
        "last={{ records.orders[0].key }}",
    )
    assert code == 0, err
    assert Path("c.csv").read_text().splitlines() == [
        "external_id,paid,spent,last",
        "C1,1,109.50,o2",
        "C2,1,7,o3",
        "C3,0,0,",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--from", "order", "--columns", "key"],
            "no collection 'order' in the datamodel; did you mean 'orders'?",
        ),
        (
            ["--from", "orders", "--columns", "key,totl"],
            "column 'totl' is not a field of collection 'orders'; did you mean 'total'?",
        ),
        (
            ["--from", "orders", "--columns", "customer.mail"],
            "unknown customer field 'mail'; did you mean 'email'?",
        ),
        (
            ["--from", "orders", "--columns", "key", "--where", "statu == 1"],
            "unknown field 'statu' of collection 'orders'; did you mean 'status'?",
        ),
        (
            ["--from", "orders", "--columns", "key", "--where", "status =="],
            "--where: expected a value",
        ),
        (
            ["--columns", "n={{ count(records.ordrs) }}"],
            "unknown collection 'ordrs'; did you mean 'orders'?",
        ),
        (["--columns", "n={{ sum(records.orders) }}"], "sum() needs the values of a field"),
    ],
)
def test_wrong_names_are_one_line_errors(sluis: Sluis, args: list[str], message: str) -> None:
    code, _, err = sluis("export", "--to", "x.csv", *args)
    assert code != 0
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert not Path("x.csv").exists()
