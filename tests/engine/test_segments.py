"""Segments in the database: selections that cannot compile are validation errors, profile
fields with ``index: true`` get indexes that queries use, records get the index aggregates
need (migration 0005, up and down), and selections choose in the database."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from engine.errors import FlowError
from engine.model.expressions import Expression
from engine.model.flow import load_flow
from engine.model.project import Project
from engine.store import Database, Store
from engine.store.customers import upsert_customers
from engine.store.profile_indexes import present, sync
from engine.store.records import typed_record, upsert_records
from engine.store.segments import matching_ids
from engine.store.sqlexpr import NotCompilable, check, compile_where, fields_of

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = """
timezone: UTC
profile:
  country: {type: str, index: true}
  score: {type: int, index: true}
  name: str
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str}
"""


def _ids(store: Store, source: str) -> list[int]:
    with store.db.read() as conn:
        chunks = matching_ids(
            conn, store.project, Expression(source), now=NOW, today=NOW.date(), chunk=2
        )
        return [i for chunk in chunks for i in chunk]


def test_profile_fields_may_ask_for_an_index(make_project: Callable[..., Project]) -> None:
    project = make_project(SETTINGS)
    assert project.settings.profile == {"country": "str", "score": "int", "name": "str"}
    assert project.settings.indexed_profile == ("country", "score")
    with pytest.raises(FlowError, match="'type' and 'index', not 'indx'"):
        make_project("profile:\n  country: {type: str, indx: true}\n", folder="bad")


def test_indexes_follow_sluis_yaml_and_serve_segments(
    make_project: Callable[..., Project], db_url: str
) -> None:
    project = make_project(SETTINGS)
    db = Database(db_url)
    assert sync(db, project) == ["+ix_profile_country_str", "+ix_profile_score_int"]
    assert sync(db, project) == []  # already there
    where = compile_where(
        Expression('customer.country == "NL"'), db.dialect, *fields_of(project)[:1], NOW, NOW.date()
    )
    if db.dialect == "sqlite":
        with db.read() as conn:
            plan = conn.execute(
                text(f"EXPLAIN QUERY PLAN SELECT c.system_id FROM customers c WHERE {where.sql}"),
                where.params,
            ).fetchall()
        assert "ix_profile_country_str" in str(plan)
    fewer = make_project(
        SETTINGS.replace("score: {type: int, index: true}", "score: int"), folder="p2"
    )
    assert sync(db, fewer) == ["-ix_profile_score_int"]
    with db.read() as conn:
        assert present(conn) == {"ix_profile_country_str"}
    db.dispose()


def test_a_selection_that_cannot_run_in_the_database_is_a_validation_error(
    make_project: Callable[..., Project],
) -> None:
    flow = """
        objects:
          start: {type: selection, where: 'customer.name < 3', next: done}
          done: {type: end}
        """
    project = make_project(SETTINGS, flows={"f": flow})
    with pytest.raises(
        FlowError, match="cannot run in the database: cannot compare text with number"
    ):
        load_flow(project.flows_dir / "f.yaml", project)


@pytest.mark.parametrize(
    ("source", "construct"),
    [
        ("customer.name < 3", "cannot compare text with number"),
        ("customer.name - 1 > 0", "cannot subtract text and number"),
        ('lower(customer.score) == "a"', "lower() needs text, not number"),
        ("sum(records.orders.status) > 1", "sum() needs numbers, not text"),
        ("count(customer.groups) > 1", "count() over this list cannot run in the database"),
    ],
)
def test_what_cannot_compile_names_the_construct(
    make_project: Callable[..., Project], source: str, construct: str
) -> None:
    project = make_project(SETTINGS)
    with pytest.raises(NotCompilable, match=re.escape(construct)):
        check(Expression(source), *fields_of(project))


def test_selections_choose_in_the_database(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> None:
    store = store_for(make_project(SETTINGS))
    sync(store.db, store.project)
    rows: list[dict[str, Any]] = [
        {"external_id": "a", "country": "NL", "score": 60},
        {"external_id": "b", "country": "NL", "score": 40},
        {"external_id": "c", "country": "BE", "score": 90},
        {"external_id": "d", "country": None, "score": None},
        {"external_id": "e", "country": "NL", "score": 51},
    ]
    with store.db.write() as conn:
        ids = [
            i
            for i, _ in upsert_customers(
                conn, rows, key="external_id", project=store.project, now=NOW
            )
        ]
        orders = [
            (ids[0], "paid", 1),
            (ids[0], "paid", 20),
            (ids[0], "paid", 40),
            (ids[2], "paid", 2),
            (ids[2], "open", 3),
        ]
        for n, (owner, status, days) in enumerate(orders):
            data = typed_record(
                "orders", {"order_id": f"o{n}", "status": status, "total": "10"}, store.project
            )
            upsert_records(
                conn,
                "orders",
                [(data, owner)],
                project=store.project,
                now=NOW - timedelta(days=days),
            )
    a, b, c, d, e = ids
    assert _ids(store, 'customer.country == "NL" and customer.score > 50') == [a, e]
    assert _ids(store, 'not (customer.country == "NL")') == [c, d]  # null is not "NL"
    assert _ids(store, 'customer.country != "NL"') == [c]  # a comparison with null is false
    paid = 'count(records.orders where status == "paid" and days_since(created_at) <= 30) >= 2'
    assert _ids(store, paid) == [a]
    assert _ids(store, "sum(records.orders.total) > 15") == [a, c]
    assert _ids(store, "count(records.orders) == 0") == [b, d, e]


def test_records_index_migration_up_and_down(tmp_path: Any) -> None:
    from alembic import command

    from engine.store.migrate import _config, upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)

    def columns() -> list[str]:
        engine = create_engine(url)
        with engine.connect() as conn:
            found = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("records")}
        engine.dispose()
        return list(found["ix_records_customer"])

    assert columns() == ["customer_id", "collection", "created_at"]
    command.downgrade(_config(url), "0005")  # type: ignore[arg-type]
    assert columns() == ["customer_id", "collection"]
    command.upgrade(_config(url), "0006")  # type: ignore[arg-type]
    assert columns() == ["customer_id", "collection", "created_at"]
