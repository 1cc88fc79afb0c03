"""Typed columns of profile fields: they follow sluis.yaml (added, dropped, a new type a new
column), hold what the JSON holds, keep customers and their ids through SQLite's rebuild, carry
the indexes of ``index: true``, and a value left from before a type change reads as null."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text

from engine.model.expressions import Expression
from engine.model.project import Project
from engine.store import Database, Store, profile_columns, profile_indexes
from engine.store.customers import upsert_customers
from engine.store.segments import matching_ids
from engine.store.sqlexpr import compile_where, fields_of

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = """
timezone: UTC
profile:
  country: {type: str, index: true}
  score: int
"""


def _ids(store: Store, source: str) -> list[int]:
    with store.db.read() as conn:
        chunks = matching_ids(conn, store.project, Expression(source), now=NOW, today=NOW.date())
        return [i for chunk in chunks for i in chunk]


def test_typed_columns_follow_sluis_yaml(make_project: Callable[..., Project], db_url: str) -> None:
    project = make_project(SETTINGS)
    db = Database(db_url)
    store = Store(db, project)
    with db.write() as conn:
        done = upsert_customers(
            conn,
            [{"external_id": "a", "country": "NL", "score": 60}, {"external_id": "b"}],
            key="external_id",
            project=project,
            now=NOW,
        )
        conn.execute(text("DELETE FROM customers WHERE external_id = 'b'"))
    (a, _), (b, _) = done
    assert profile_columns.sync(db, project) == ["+profile_country_str", "+profile_score_int"]
    assert profile_columns.sync(db, project) == []
    assert profile_indexes.sync(db, project) == ["+ix_profile_country_str"]
    with db.read() as conn:
        assert profile_columns.typed_fields(conn, project) == {"country", "score"}
        row = conn.execute(text("SELECT profile_country_str, profile_score_int FROM customers"))
        assert [tuple(r) for r in row] == [("NL", 60)]
    assert _ids(store, 'customer.country == "NL" and customer.score > 50') == [a]

    with db.write() as conn:  # the table is rebuilt empty below: its ids stay given
        conn.execute(text("DELETE FROM customers"))
    # a field changes type, another goes: the new type is a new column, the old ones go
    changed = make_project("timezone: UTC\nprofile:\n  score: str\n  city: str\n", folder="changed")
    assert profile_columns.sync(db, changed) == [
        "-profile_country_str",
        "-profile_score_int",
        "+profile_city_str",
        "+profile_score_str",
    ]
    assert profile_indexes.sync(db, changed) == []  # it went with its column
    with db.read() as conn:
        assert profile_columns.present(conn) == {"profile_city_str", "profile_score_str"}
    with db.write() as conn:  # new customers never take an old id
        new = upsert_customers(
            conn,
            [{"external_id": "c", "city": "Gouda"}],
            key="external_id",
            project=changed,
            now=NOW,
        )
    assert new[0][0] > b
    assert _ids(Store(db, changed), 'customer.city == "Gouda"') == [new[0][0]]
    db.dispose()


def test_a_value_from_before_a_type_change_reads_as_null(
    make_project: Callable[..., Project], db_url: str
) -> None:
    before = make_project("timezone: UTC\nprofile:\n  score: str\n")
    db = Database(db_url)
    with db.write() as conn:
        upsert_customers(
            conn,
            [{"external_id": "a", "score": "high"}, {"external_id": "b", "score": "7"}],
            key="external_id",
            project=before,
            now=NOW,
        )
    after = make_project("timezone: UTC\nprofile:\n  score: int\n", folder="after")
    profile_columns.sync(db, after)  # does not fail on "high"
    store = Store(db, after)
    with db.read() as conn:
        values = conn.execute(text("SELECT profile_score_int FROM customers ORDER BY system_id"))
        stored = [r[0] for r in values]
    if db.dialect == "postgresql":
        assert stored == [None, 7]
    else:  # SQLite's column holds what the JSON holds, as its JSON path reads it
        assert stored == ["high", "7"]
    profile, _ = fields_of(after)
    where = compile_where(Expression("customer.score > 5"), db.dialect, profile, NOW, NOW.date())
    with db.read() as conn:  # the typed column and the JSON answer alike
        from_json = conn.execute(
            text(f"SELECT c.system_id FROM customers c WHERE {where.sql} ORDER BY 1"), where.params
        ).scalars()
        assert list(from_json) == _ids(store, "customer.score > 5")
    db.dispose()
