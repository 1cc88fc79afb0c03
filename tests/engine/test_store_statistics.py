"""Statistics after fast growth (issue 21): a process that fills a fresh PostgreSQL table
analyzes it itself, when what it added reaches what the table held, so plans made for an empty
table do not stay; SQLite needs none."""

from __future__ import annotations

from sqlalchemy import text

from engine.store import Database
from engine.store.statistics import Growth


def _groups(db: Database, start: int, count: int) -> None:
    with db.write() as conn:
        for n in range(start, start + count):
            conn.execute(
                text("INSERT INTO groups (name, created_at) VALUES (:n, CURRENT_TIMESTAMP)"),
                {"n": f"g{n}"},
            )


def _known_rows(db: Database) -> float:
    with db.read() as conn:
        return float(
            conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'groups'")).scalar()
        )


def test_a_growing_table_is_analyzed_when_it_doubles(db: Database) -> None:
    growth = Growth(db, floor=10)
    if db.dialect == "sqlite":
        assert growth.add(["groups"], 10) is None
        return
    _groups(db, 0, 9)
    assert growth.add(["groups"], 9) is None  # below the floor: not yet
    _groups(db, 9, 1)
    first = growth.add(["groups"], 1)
    assert first is not None
    first.join(10)
    assert _known_rows(db) == 10
    _groups(db, 10, 9)
    assert growth.add(["groups"], 9) is None  # the table has not doubled since
    _groups(db, 19, 1)
    second = growth.add(["groups"], 1)
    assert second is not None
    second.join(10)
    assert _known_rows(db) == 20
