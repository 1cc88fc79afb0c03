"""Schema versions with Alembic: a new database is created at the newest version; an older one
is upgraded in place by ``sluis db upgrade``. ``SCHEMA_VERSION`` names the newest revision (a
test keeps it equal to the migrations' head), so starting sluis never loads Alembic."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, inspect, text

from engine.errors import StoreError

SCHEMA_VERSION = "0008"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _config(url: str, connection: Connection | None = None) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current(conn: Connection) -> str | None:
    """The schema version of the database, or None when it has no version table."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(value) if value is not None else None


VERSION_TABLE = "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) PRIMARY KEY)"


def stamp(conn: Connection, version: str = SCHEMA_VERSION) -> None:
    """Record that the schema is at ``version`` (a freshly created one: the newest)."""
    conn.execute(text(VERSION_TABLE))
    conn.execute(text("DELETE FROM alembic_version"))
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})


def check(conn: Connection) -> None:
    """Refuse a database whose schema is older or newer than this sluis."""
    found = current(conn)
    if found is not None and found != SCHEMA_VERSION:
        raise StoreError(
            f"the database schema is at version {found}, this sluis needs {SCHEMA_VERSION}; run "
            "'sluis db upgrade' (back up the database first)"
        )


def upgrade(url: str) -> tuple[str | None, str]:
    """Upgrade the database at ``url`` to the newest schema; returns (before, after)."""
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            before = current(conn)
            if before is None and inspect(conn).has_table("customers"):
                stamp(conn, "0001")  # made before versions were kept: the first version
            command.upgrade(_config(url, conn), "head")  # type: ignore[arg-type]
            after = current(conn) or SCHEMA_VERSION
    finally:
        engine.dispose()
    return before, after
