"""Indexes on profile fields that ``sluis.yaml`` asks for (``{type: str, index: true}``).

Each is an index on the field's typed column (``engine.store.profile_columns``), or where the
table has none an expression index on exactly the SQL the compiled expressions read the field
with (``Dialect.profile_field``), so a segment on the field runs on the index, on SQLite and on
PostgreSQL. They follow ``sluis.yaml``: opening the store creates the indexes newly asked for and
drops those no longer asked for (a field's type is part of the name, so a changed type gets a
new index). Their names start with ``ix_profile_``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from engine.store.profile_columns import typed_fields
from engine.store.sqlexpr import Dialect

if TYPE_CHECKING:
    from engine.model.project import Project
    from engine.store.db import Database

PREFIX = "ix_profile_"


def wanted(project: Project) -> dict[str, tuple[str, str]]:
    """Index name -> (field, type) for every profile field with ``index: true``."""
    profile = project.settings.profile
    return {
        f"{PREFIX}{name}_{profile[name]}": (name, profile[name])
        for name in project.settings.indexed_profile
    }


def present(conn: Connection) -> set[str]:
    """The profile indexes the customers table has (from the catalog: SQLAlchemy does not
    reflect expression indexes on SQLite)."""
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'customers'"
    names = conn.execute(text(query)).scalars()
    return {str(name) for name in names if str(name).startswith(PREFIX)}


def sync(db: Database, project: Project) -> list[str]:
    """Create the profile indexes ``sluis.yaml`` asks for and drop the others; returns what
    changed (``+name`` created, ``-name`` dropped)."""
    asked = wanted(project)
    with db.read() as conn:
        have = present(conn)
        typed = typed_fields(conn, project)
    if have == set(asked):
        return []
    changes = []
    dialect = Dialect(db.dialect)
    with db.write() as conn:
        for name in sorted(have - set(asked)):
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
            changes.append(f"-{name}")
        for name in sorted(set(asked) - have):
            field, kind = asked[name]
            column = dialect.profile_field(field, kind, alias="", typed=field in typed)
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON customers (({column}))"))
            changes.append(f"+{name}")
    if changes and db.dialect == "postgresql":
        db.analyze("customers")
    elif changes:  # the new indexes are in the WAL: readers would look them up there
        db.checkpoint()
    return changes
