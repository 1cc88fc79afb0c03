"""Typed columns of profile fields: one generated column per field of ``sluis.yaml``'s profile.

Profile fields live in the customers table's JSON ``profile`` column, so a changed profile needs
no migration; but reading a field out of JSON for every row of a segment costs several times the
read of a plain column. So the customers table also has, per profile field, a stored generated
column (``profile_FIELD_TYPE``) computed by the database from the JSON with exactly the
expression the compiled expressions would otherwise use (``Dialect.json_field``): the two
always agree, every path that writes a customer keeps it current, and the indexes of ``index:
true`` (``engine.store.profile_indexes``) are plain indexes on it.

They follow ``sluis.yaml`` when the store opens (``sync``): columns of new fields (or of a
field's new type) are added, columns no longer asked for dropped. PostgreSQL adds and drops
them in one ``ALTER TABLE``; SQLite cannot add a stored column to a table, so there the
customers table is rebuilt with them (once per change of the profile: about 2 s per 100,000
customers), with its indexes, in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import BLOB, Column, Computed, Connection, MetaData, Table, text
from sqlalchemy.schema import CreateIndex, CreateTable

from engine.store.sqlexpr.dialects import KINDS, PG_TYPES, Dialect, typed_column

if TYPE_CHECKING:
    from engine.model.project import Project
    from engine.store.db import Database

PREFIX = "profile_"
_LOCK = 5175151  # PostgreSQL advisory lock: two processes opening at once, one changes


def wanted(project: Project) -> dict[str, tuple[str, str]]:
    """Column name -> (field, type) for every profile field."""
    return {
        typed_column(name, kind): (name, kind) for name, kind in project.settings.profile.items()
    }


def present(conn: Connection) -> set[str]:
    """The typed profile columns the customers table has."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name FROM pragma_table_xinfo('customers')")).scalars()
    else:
        rows = conn.execute(  # the catalog itself: information_schema costs ten times more
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('customers') "
                "AND attnum > 0 AND NOT attisdropped"
            )
        ).scalars()
    return {str(name) for name in rows if str(name).startswith(PREFIX)}


def typed_fields(conn: Connection, project: Project) -> set[str]:
    """The profile fields of ``project`` that are read from typed columns (those the table
    has with the project's type; another process may run an older ``sluis.yaml``)."""
    have = present(conn)
    return {field for name, (field, _) in wanted(project).items() if name in have}


def sync(db: Database, project: Project) -> list[str]:
    """Add the typed columns ``sluis.yaml`` asks for and drop the others; returns what changed
    (``+name`` added, ``-name`` dropped)."""
    asked = wanted(project)
    with db.read() as conn:
        if present(conn) == set(asked):
            return []
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK})"))
        have = present(conn)  # again, in the write transaction: another process may have
        gone, new = sorted(have - set(asked)), sorted(set(asked) - have)
        if not gone and not new:
            return []
        if db.dialect == "postgresql":
            _alter(conn, gone, {name: asked[name] for name in new})
        else:
            _rebuild(conn, {name: asked[name] for name in sorted(asked)})
    if db.dialect == "postgresql":
        db.analyze("customers")
    else:  # the rebuilt table is in the WAL: readers would look it up there page by page
        db.checkpoint()
    return [f"-{name}" for name in gone] + [f"+{name}" for name in new]


def _expression(dialect: Dialect, field: str, kind: str) -> str:
    return dialect.json_field("profile", field, kind, total=True)


def _alter(conn: Connection, gone: list[str], new: dict[str, tuple[str, str]]) -> None:
    dialect = Dialect("postgresql")
    changes = [f"DROP COLUMN IF EXISTS {name}" for name in gone]
    for name, (field, kind) in new.items():
        # an index of the field on its JSON (made before typed columns) is made anew on it
        conn.execute(text(f"DROP INDEX IF EXISTS ix_{name}"))
        sql_type = PG_TYPES.get(KINDS[kind], "text")
        expression = _expression(dialect, field, kind)
        changes.append(f"ADD COLUMN {name} {sql_type} GENERATED ALWAYS AS ({expression}) STORED")
    conn.execute(text(f"ALTER TABLE customers {', '.join(changes)}"))


def _rebuild(conn: Connection, columns: dict[str, tuple[str, str]]) -> None:
    """SQLite: the customers table made anew with exactly ``columns`` as typed columns (its
    other columns, constraints and indexes as the models say), rows and ids kept."""
    from engine.store.models import CUSTOMERS

    dialect = Dialect("sqlite")
    copy = Table(
        "customers_rebuilt",
        MetaData(),
        *(column._copy() for column in CUSTOMERS.columns),
        *(
            # declared BLOB: SQLite's "no affinity", the column holds what json_extract gives
            Column(name, BLOB, Computed(_expression(dialect, field, kind), persisted=True))
            for name, (field, kind) in columns.items()
        ),
        sqlite_autoincrement=True,
    )
    names = ", ".join(column.name for column in CUSTOMERS.columns)
    # AUTOINCREMENT: the highest id ever given stays given, also when its customer is gone
    sequence = conn.execute(
        text("SELECT seq FROM sqlite_sequence WHERE name = 'customers'")
    ).scalar()
    conn.execute(CreateTable(copy))
    conn.execute(text(f"INSERT INTO customers_rebuilt ({names}) SELECT {names} FROM customers"))
    conn.execute(text("DROP TABLE customers"))
    conn.execute(text("ALTER TABLE customers_rebuilt RENAME TO customers"))
    for index in CUSTOMERS.indexes:
        conn.execute(CreateIndex(index))
    if sequence is not None:  # the copy set it to the highest id copied (if any), maybe lower
        conn.execute(text("DELETE FROM sqlite_sequence WHERE name = 'customers'"))
        conn.execute(
            text("INSERT INTO sqlite_sequence (name, seq) VALUES ('customers', :seq)"),
            {"seq": sequence},
        )
