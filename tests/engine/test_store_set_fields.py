"""``set_fields`` on SQLite and PostgreSQL: profile fields alone are merged in by the database
(no profile read and written back), built-in fields the customer-by-customer way; either way
the other fields stay, and only customers that change get a new ``updated_at``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from engine.model.project import Project
from engine.store import Store
from engine.store.customers import load_customers, set_fields, upsert_customers

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
SETTINGS = """\
timezone: UTC
profile: {first_name: str, crm_id: str, score: int, vip: bool, born: date}
"""


@pytest.fixture
def store(make_project: Callable[..., Project], store_for: Callable[[Project], Store]) -> Store:
    made = store_for(make_project(SETTINGS))
    rows = [
        {"external_id": "a", "email": "a@example.com", "first_name": "Ann", "score": 3},
        {"external_id": "b", "email": "b@example.com", "first_name": "Bob", "vip": True},
        {"external_id": "c", "email": "c@example.com", "crm_id": "C-9"},
    ]
    with made.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=made.project, now=NOW)
    return made


def _customers(store: Store) -> dict[str, dict]:
    with store.db.read() as conn:
        loaded = load_customers(conn, [1, 2, 3], store.project)
    return {c["external_id"]: c for c in loaded.values()}


def test_profile_fields_are_merged_and_unchanged_customers_left_alone(store: Store) -> None:
    before = _customers(store)
    ids = {key: c["system_id"] for key, c in before.items()}
    changes = {
        ids["a"]: {"crm_id": "C-1", "score": 4, "vip": False, "born": date(1990, 5, 17)},
        ids["b"]: {"vip": True},  # holds that already
        ids["c"]: {"crm_id": "C-9", "score": None},  # crm_id holds; score is new (null)
    }
    with store.db.write() as conn:
        changed = set_fields(conn, changes, store.project, LATER)
    after = _customers(store)
    assert changed == 2
    a = after["a"]
    assert (a["first_name"], a["crm_id"], a["score"], a["vip"]) == ("Ann", "C-1", 4, False)
    assert a["born"] == date(1990, 5, 17) and a["email"] == "a@example.com"
    assert after["b"] == before["b"]  # its updated_at too
    assert after["c"]["crm_id"] == "C-9" and after["c"]["score"] is None
    assert a["updated_at"] == after["c"]["updated_at"] == LATER
    with store.db.write() as conn:
        assert set_fields(conn, changes, store.project, LATER + timedelta(hours=1)) == 0
    assert _customers(store) == after


def test_built_in_fields_with_profile_fields_are_set_together(store: Store) -> None:
    ids = {key: c["system_id"] for key, c in _customers(store).items()}
    changes = {
        ids["a"]: {"email": "ann@example.com", "crm_id": "C-1"},
        ids["b"]: {"crm_id": "C-2"},
    }
    with store.db.write() as conn:
        assert set_fields(conn, changes, store.project, LATER) == 2
    after = _customers(store)
    assert after["a"]["email"] == "ann@example.com" and after["a"]["crm_id"] == "C-1"
    assert after["a"]["first_name"] == "Ann" and after["a"]["score"] == 3
    assert after["b"]["crm_id"] == "C-2" and after["b"]["vip"] is True
