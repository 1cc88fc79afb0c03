"""Schema versions: the migrations build exactly the tables sluis uses, a new database starts at
the newest version, and an older one is refused until ``sluis db upgrade``."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.errors import StoreError
from engine.store import Database
from engine.store.migrate import MIGRATIONS, SCHEMA_VERSION, _config, current, upgrade
from engine.store.models import TABLES


def test_schema_version_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config("sqlite://"))  # type: ignore[arg-type]
    assert script.get_current_head() == SCHEMA_VERSION
    assert (MIGRATIONS / "versions").is_dir()


def test_migrations_build_the_same_schema_as_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(db_url)
    with engine.begin() as conn:
        for table in reversed(TABLES.sorted_tables):
            conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    before, after = upgrade(db_url)
    assert (before, after) == (None, SCHEMA_VERSION)
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # expression indexes cannot be compared on SQLite
        diff = compare_metadata(MigrationContext.configure(conn), TABLES)
    engine.dispose()
    assert diff == []


def test_a_new_database_starts_at_the_newest_version(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    db.create_schema()
    with db.engine.connect() as conn:
        assert current(conn) == SCHEMA_VERSION
    db.dispose()


def test_an_older_database_is_refused_until_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    db.create_schema()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    db.dispose()
    with pytest.raises(StoreError, match="run 'sluis db upgrade'"):
        Database(url).create_schema()


def test_db_upgrade_command(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "flows").mkdir(parents=True)
    (root / "sluis.yaml").write_text("database: sqlite:///sluis.db\n")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "db", "upgrade", "--project", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"new -> {SCHEMA_VERSION}" in result.stdout
    again = subprocess.run(
        [sys.executable, "-m", "cli", "db", "upgrade", "--project", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert f"{SCHEMA_VERSION} -> {SCHEMA_VERSION}" in again.stdout
