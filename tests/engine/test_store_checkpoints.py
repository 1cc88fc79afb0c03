"""Checkpoints in the background (``sluis serve``): commits no longer checkpoint the WAL, a
thread of the process does, so the data reaches the database file without any commit waiting."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from engine.store import Database


def _fill(db: Database) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS filler (x TEXT)"))
        for _ in range(50):  # 50 x 1,000 rows of 500 bytes: ~25 MB, past 4,000 pages of WAL
            conn.execute(text("INSERT INTO filler VALUES (:x)"), [{"x": "y" * 500}] * 1000)


def test_commits_leave_checkpoints_to_the_background_thread(tmp_path: Path) -> None:
    path = tmp_path / "bg.db"
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    stop = db.checkpoint_in_background(every=0.2)
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        before = path.stat().st_size
        _fill(db)
        assert path.stat().st_size == before  # the commit checkpointed nothing
        deadline = time.monotonic() + 10
        while path.stat().st_size < before + 20_000_000 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.stat().st_size > before + 20_000_000  # the thread did
    finally:
        stop()
        db.dispose()


def test_without_it_commits_checkpoint_as_usual(tmp_path: Path) -> None:
    path = tmp_path / "fg.db"
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    before = path.stat().st_size
    _fill(db)
    assert path.stat().st_size > before + 20_000_000
    db.dispose()


def test_postgres_and_memory_databases_need_no_thread() -> None:
    db = Database("sqlite://")
    stop = db.checkpoint_in_background()
    stop()  # nothing started, nothing to stop
    db.dispose()
