"""The store's tables, rendered as each database builds them: every table's CREATE TABLE and
CREATE INDEX on SQLite and PostgreSQL, and the defaults SQLAlchemy fills in on insert, compared
with the copy committed in ``tests/engine/schema``. A changed column, type, default,
nullability, constraint or index name shows up here as a diff, beside the migration that must
go with it. After a deliberate change (with its migration), write the copy again with
``.venv/bin/python -m tests.engine.test_schema``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from engine.store.models import TABLES

STORED = Path(__file__).parent / "schema"
DIALECTS: dict[str, Dialect] = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}


def ddl(dialect: Dialect) -> str:
    """Every table's CREATE TABLE and its indexes' CREATE INDEX, by table and index name."""
    statements = []
    for table in sorted(TABLES.tables.values(), key=lambda t: t.name):
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    text = ";\n\n".join(statements) + ";\n"
    return "\n".join(line.rstrip() for line in text.split("\n"))


def defaults() -> str:
    """What SQLAlchemy itself puts in a column an insert leaves out (not part of the DDL)."""
    lines = []
    for table in sorted(TABLES.tables.values(), key=lambda t: t.name):
        for column in table.columns:
            default = column.default
            shown = "-" if default is None else repr(getattr(default, "arg", default))
            lines.append(
                f"{table.name}.{column.name} default={shown} onupdate={column.onupdate!r} "
                f"autoincrement={column.autoincrement!r}"
            )
    return "\n".join(lines) + "\n"


def rendered() -> dict[str, str]:
    files = {f"{name}.sql": ddl(dialect) for name, dialect in DIALECTS.items()}
    files["defaults.txt"] = defaults()
    return files


@pytest.mark.parametrize("name", ["sqlite.sql", "postgresql.sql", "defaults.txt"])
def test_the_tables_are_the_stored_schema(name: str) -> None:
    assert rendered()[name] == (STORED / name).read_text()


if __name__ == "__main__":
    for name, text in rendered().items():
        (STORED / name).write_text(text)
