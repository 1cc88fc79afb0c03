"""Rows stored with a lone surrogate before the API refused them (issue 21, item 4): REST reads
serve them with U+FFFD instead of answering 500, ``sluis db check`` lists them and
``sluis db check --fix`` repairs them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from api_helpers import Setup
from sqlalchemy import insert, select, text
from typer.testing import CliRunner

from cli import app
from engine.store import profile_columns
from engine.store.models import CUSTOMERS, RECORDS

BAD = "Ann\ud800"
SHOWN = "Ann\ufffd"


def _poison(setup: Setup) -> int:
    now = datetime.now(UTC)
    customers = CUSTOMERS
    records = RECORDS
    with setup.store.db.write() as conn:
        if conn.dialect.name == "postgresql":  # stored before the typed profile columns came,
            for name in profile_columns.present(conn):  # which PostgreSQL cannot compute of it
                conn.execute(text(f"ALTER TABLE customers DROP COLUMN {name}"))
        system_id = conn.execute(
            insert(customers)
            .values(external_id="C1", profile={"first_name": BAD}, created_at=now, updated_at=now)
            .returning(customers.c.system_id)
        ).scalar_one()
        conn.execute(
            insert(records).values(
                collection="orders",
                key="O1",
                customer_id=system_id,
                data={"order_id": "O1", "status": {"\udfff": [BAD]}},
                created_at=now,
                updated_at=now,
            )
        )
    return int(system_id)


def _sluis(setup: Setup, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("SLUIS_DATABASE_URL", setup.store.db.url)
    result = CliRunner().invoke(app, [*args, "--project", str(setup.project.root)])
    return result.exit_code, result.output


def test_bad_rows_are_served_listed_and_repaired(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_id = _poison(setup)
    one = setup.api.get(f"/api/v1/customers/{system_id}")
    assert one.status_code == 200, one.text
    assert one.json()["first_name"] == SHOWN
    assert setup.api.get("/api/v1/customers").json()["items"][0]["first_name"] == SHOWN
    listed = setup.api.get("/api/v1/datamodel/orders", params={"customer_id": system_id})
    assert listed.status_code == 200, listed.text

    code, out = _sluis(setup, monkeypatch, "db", "check")
    assert code == 1, out
    assert f"customers.profile [{system_id}]: first_name" in out
    assert "records.data [" in out and "status.\ufffd (its name)" in out
    assert "2 row(s) cannot be served; 'sluis db check --fix' repairs them" in out

    code, out = _sluis(setup, monkeypatch, "db", "check", "--fix")
    assert code == 0, out
    assert "repaired 2 row(s)" in out
    code, out = _sluis(setup, monkeypatch, "db", "check")
    assert code == 0 and "no rows with text that cannot be served" in out, out
    with setup.store.db.read() as conn:
        profile = conn.execute(select(CUSTOMERS.c.profile)).scalar_one()
        data = conn.execute(select(RECORDS.c.data)).scalar_one()
    assert profile == {"first_name": SHOWN}
    assert data == {"order_id": "O1", "status": {"\ufffd": [SHOWN]}}
