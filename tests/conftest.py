"""Shared fixtures: projects in temporary folders, and databases on SQLite and PostgreSQL.

PostgreSQL tests use the server on 127.0.0.1:5432 (``SLUIS_TEST_POSTGRES`` overrides the admin
URL). Outside CI a missing server skips them; in CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from http_target import HttpTarget
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from engine.model.project import Project
from engine.store import Database, Store
from engine.store.models import TABLES

pytest_plugins = ["sftpd"]  # SFTP servers for the files tests (tests/sftpd.py)

ADMIN_URL = os.environ.get(
    "SLUIS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    name = f"sluis_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _clean_postgres(url: str) -> None:
    engine = create_engine(url)
    TABLES.create_all(engine)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in TABLES.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL, once for SQLite (a file) and once for PostgreSQL (emptied)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _clean_postgres(url)
    return url


ProjectFactory = Callable[..., Project]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write a project (sluis.yaml, flows, templates) into a temporary folder and load it."""

    def make(
        settings: str = "",
        flows: dict[str, str] | None = None,
        templates: dict[str, str] | None = None,
        folder: str = "project",
    ) -> Project:
        root = tmp_path / folder
        (root / "flows").mkdir(parents=True, exist_ok=True)
        (root / "templates").mkdir(exist_ok=True)
        (root / "sluis.yaml").write_text(textwrap.dedent(settings) or "timezone: UTC\n")
        for name, body in (flows or {}).items():
            (root / "flows" / f"{name}.yaml").write_text(textwrap.dedent(body))
        for name, body in (templates or {}).items():
            (root / "templates" / name).write_text(textwrap.dedent(body))
        return Project.load(root)

    return make


@pytest.fixture
def store_for(db_url: str) -> Iterator[Callable[[Project], Store]]:
    """A store on the parametrised database for a project."""
    made: list[Store] = []

    def make(project: Project) -> Store:
        store = Store(Database(db_url), project)
        made.append(store)
        return store

    yield make
    for store in made:
        store.db.dispose()


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def replay_on(
    store_for: Callable[[Project], Store], tmp_path: Path
) -> Iterator[Callable[..., object]]:
    """Replay a flow of a project on the parametrised database; returns the Replay after it ran."""
    from datetime import UTC, datetime, timedelta

    from engine.model.flow import find_flow
    from engine.runtime.replay import Replay

    def play(
        project: Project,
        flow: str,
        customers: list[str],
        *,
        start: str = "2026-01-05T09:00:00+00:00",
        until: str = "30d",
        entries: list[str] | None = None,
        events: list[str] | None = None,
        records: list[tuple[str, Path]] | None = None,
        run: bool = True,
    ) -> Replay:
        from engine.model.durations import parse_duration

        csv_path = write_csv(tmp_path / "customers.csv", customers[0], *customers[1:])
        entries_path = None
        if entries is not None:
            entries_path = tmp_path / "entries.jsonl"
            entries_path.write_text("\n".join(entries) + "\n")
        events_path = None
        if events is not None:
            events_path = write_csv(tmp_path / "events.csv", "customer,event,at,mail", *events)
        session = Replay(
            project,
            find_flow(project, flow),
            csv_path,
            entries=entries_path,
            events=events_path,
            records=records or (),
            start=datetime.fromisoformat(start).astimezone(UTC),
            until=parse_duration(until) if until else timedelta(days=30),
            store=store_for(project),
        )
        sessions.append(session)
        if run:
            session.run()
        return session

    sessions: list[Replay] = []
    yield play
    for session in sessions:
        session.close()


@pytest.fixture
def clean_postgres_url(postgres_url: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    _clean_postgres(postgres_url)
    return postgres_url


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    """A real HTTP server on 127.0.0.1 that records requests and answers as planned."""
    server = HttpTarget()
    yield server
    server.close()
