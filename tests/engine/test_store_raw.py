"""Set-based writes (``insert_rows``, ``update_rows``): the same rows land on SQLite
(executemany) and PostgreSQL (COPY, a staging table), with awkward values, skipped conflicts,
several staged writes in one transaction, database errors as the store reports them, and
``among`` matching long lists of values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from engine.errors import StoreConflict
from engine.store import Database
from engine.store.models import GROUPS, MEMBERSHIPS, STEPS
from engine.store.raw import encoder, insert_rows, time_param, update_rows

MEMBERS = MEMBERSHIPS
NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
REASONS = ["plain", 'quotes " and \\ backslash', "tab\tand\nnewline", "Zoë ✓", "", "\\N"]


def test_insert_and_update_rows_write_awkward_values_exactly(db: Database) -> None:
    with db.write() as conn:
        at = time_param(conn, NOW)
        insert_rows(
            conn,
            STEPS,
            ("journey_id", "flow", "object", "at", "output", "reason"),
            [(i + 1, "f", "o", at, None, reason) for i, reason in enumerate(REASONS)],
        )
        update_rows(
            conn, STEPS, ("output", "object"), "journey_id", [("out", "p", 2), ("x", "q", 3)]
        )
        update_rows(conn, STEPS, ("output",), "journey_id", [("again", 3)])  # staged twice
        update_rows(conn, STEPS, ("output",), "journey_id", [])
    with db.read() as conn:
        rows = conn.execute(
            text("SELECT journey_id, object, output, reason FROM steps ORDER BY journey_id")
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "o", None, REASONS[0]),
        (2, "p", "out", REASONS[1]),
        (3, "q", "again", REASONS[2]),
        (4, "o", None, REASONS[3]),
        (5, "o", None, REASONS[4]),
        (6, "o", None, "\\N"),
    ]


def test_json_and_time_values_round_trip(db: Database) -> None:
    from engine.store.journeys import JC, J

    with db.write() as conn:
        encode, at = encoder(conn, JC.data), time_param(conn, NOW)
        insert_rows(
            conn,
            J,
            (
                "id",
                "flow",
                "customer_id",
                "object",
                "state",
                "entered_at",
                "arrived_at",
                "via",
                "data",
            ),
            [(7, "f", 1, "a", "active", at, at, "start", encode({"n": 1, "s": 'a"b'}))],
        )
        update_rows(conn, J, ("data", "ready_at"), "id", [(encode({"k": [1, None]}), at, 7)])
    with db.read() as conn:
        from engine.store.journeys import claimed_rows

        (row,) = claimed_rows(conn, [7])
    assert row.data == {"k": [1, None]}
    with db.read() as conn:
        ready = conn.execute(text("SELECT ready_at FROM journeys")).scalar_one()
    assert ready == NOW or datetime.fromisoformat(str(ready)).replace(tzinfo=UTC) == NOW


def test_skipped_conflicts_and_errors(db: Database) -> None:
    with db.write() as conn:
        conn.execute(GROUPS.insert().values(id=1, name="vip", created_at=NOW))
        at = time_param(conn, NOW)
        rows = [(1, 10, at), (1, 11, at)]
        insert_rows(conn, MEMBERS, ("group_id", "customer_id", "added_at"), rows)
        added = insert_rows(
            conn,
            MEMBERS,
            ("group_id", "customer_id", "added_at"),
            [(1, 11, at), (1, 12, at)],
            skip_conflicts=True,
        )
        assert added == 1  # 11 was there
    with pytest.raises(StoreConflict), db.write() as conn:
        insert_rows(conn, MEMBERS, ("group_id", "customer_id", "added_at"), [(1, 12, at)])
    with db.write() as conn:  # the failed transaction left its connection usable
        insert_rows(conn, MEMBERS, ("group_id", "customer_id", "added_at"), [(1, 13, at)])
    with db.read() as conn:
        members = conn.execute(text("SELECT customer_id FROM memberships ORDER BY 1")).scalars()
        assert list(members) == [10, 11, 12, 13]


def test_among_matches_a_long_list_as_text_and_as_a_column(db: Database) -> None:
    """``among`` gives the same rows for SQL text and for a SQLAlchemy column or expression,
    on both databases, with more values than one SQLite IN list takes."""
    from sqlalchemy import func, select

    from engine.store.raw import among, fetch

    names = [f"G{i}" for i in range(1200)]
    with db.write() as conn:
        conn.execute(
            GROUPS.insert(),
            [{"id": i + 1, "name": n, "created_at": NOW} for i, n in enumerate(names)],
        )
    wanted = [*names[::3], "missing"]
    with db.read() as conn:
        as_text = [
            row[0]
            for condition, params in among(conn, "name", wanted)
            for row in fetch(conn, f"SELECT name FROM groups WHERE {condition}", params)
        ]
        as_column = [
            name
            for condition, _ in among(conn, GROUPS.c.name, wanted)
            for name in conn.execute(select(GROUPS.c.name).where(condition)).scalars()
        ]
        lowered = func.lower(GROUPS.c.name)  # an expression of no known type
        as_expression = [
            name
            for condition, _ in among(conn, lowered, [n.lower() for n in wanted])
            for name in conn.execute(select(GROUPS.c.name).where(condition)).scalars()
        ]
    assert sorted(as_text) == sorted(as_column) == sorted(as_expression) == sorted(names[::3])


def _groups(db: Database, count: int) -> None:
    with db.write() as conn:
        conn.execute(
            GROUPS.insert(),
            [{"id": i, "name": f"G{i}%", "created_at": NOW} for i in range(1, count + 1)],
        )


def test_streamed_reads_one_statement_in_chunks(db: Database) -> None:
    """``streamed`` gives the rows of a statement with named parameters (one used twice, a
    ``%`` in its text), as the driver gives them, in chunks of at most the size asked."""
    from engine.store.raw import streamed

    _groups(db, 7)
    statement = (
        "SELECT id, name FROM groups WHERE id > :after AND id <> :skip AND name LIKE 'G%' "
        "AND :after < 100 ORDER BY id"
    )
    with db.read() as conn:
        chunks = list(streamed(conn, statement, {"after": 1, "skip": 4}, 2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert [tuple(row) for chunk in chunks for row in chunk] == [
        (i, f"G{i}%") for i in (2, 3, 5, 6, 7)
    ]
    with db.read() as conn:
        assert list(streamed(conn, statement, {"after": 7, "skip": 0}, 2)) == []


def test_streamed_stopped_early_leaves_the_connection_usable(db: Database) -> None:
    """A caller that stops reading closes the cursor (PostgreSQL: the server-side cursor is
    gone), and the transaction goes on with other statements."""
    from engine.store.raw import streamed

    _groups(db, 5)
    with db.read() as conn:
        chunks = streamed(conn, "SELECT id FROM groups ORDER BY id", {}, 2)
        assert [row[0] for row in next(chunks)] == [1, 2]
        chunks.close()
        if conn.dialect.name == "postgresql":
            assert conn.execute(text("SELECT count(*) FROM pg_cursors")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM groups")).scalar() == 5
        again = [
            row[0] for chunk in streamed(conn, "SELECT id FROM groups", {}, 10) for row in chunk
        ]
        assert sorted(again) == [1, 2, 3, 4, 5]


def test_streamed_errors_are_the_stores(db: Database) -> None:
    """A statement the database refuses fails as any other statement does: a
    ``DatabaseError`` naming the problem."""
    from engine.errors import DatabaseError
    from engine.store.raw import streamed

    with pytest.raises(DatabaseError, match="no_such_column"), db.read() as conn:
        list(streamed(conn, "SELECT no_such_column FROM groups", {}, 10))
