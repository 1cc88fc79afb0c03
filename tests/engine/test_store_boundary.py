"""Database errors are translated at the store's boundary: no module outside ``engine/store``
names SQLAlchemy's exceptions; they meet ``StoreError`` and its subclasses instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.errors import DatabaseError, StoreConflict, StoreError, StoreUnavailable
from engine.store.db import Database, database_error

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "objects", "api", "tui", "cli")
NAMES = re.compile(
    r"sqlalchemy\.exc|\b(IntegrityError|OperationalError|DBAPIError|SQLAlchemyError|DataError"
    r"|InterfaceError|ProgrammingError)\b"
)


def test_no_module_outside_the_store_names_sqlalchemys_exceptions() -> None:
    modules = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    assert len(modules) > 100
    store = ROOT / "engine" / "store"
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in modules
        if store not in path.parents
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if NAMES.search(line)
    ]
    assert offenders == []


def test_a_unique_constraint_leaves_the_store_as_a_conflict() -> None:
    db = Database("sqlite://")
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO t VALUES ('a')")
    conflict = pytest.raises(StoreConflict, match="conflicts with data stored meanwhile")
    with conflict as caught, db.write() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES ('a')")
    assert "UNIQUE" in caught.value.detail
    with db.read() as conn:  # the failed transaction left nothing behind
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1


def test_a_bad_statement_is_a_database_error_not_a_busy_database() -> None:
    db = Database("sqlite://")
    with pytest.raises(DatabaseError, match="the database") as caught, db.read() as conn:
        conn.exec_driver_sql("SELEC 1")
    assert isinstance(caught.value, StoreError)
    assert not isinstance(caught.value, StoreConflict)


def test_a_locked_or_lost_database_is_unavailable() -> None:
    from sqlalchemy.exc import DisconnectionError, OperationalError

    locked = database_error(OperationalError("INSERT", None, Exception("database is locked")))
    assert isinstance(locked, StoreUnavailable)
    assert str(locked) == "the database is unavailable or busy: database is locked"
    assert isinstance(database_error(DisconnectionError("gone")), StoreUnavailable)
