"""The throttle's hour windows, shared by workers that reserve at the same moment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from mailtest import START

from engine.mail.throttle import reserve, window_of
from engine.store import Database


def test_concurrent_workers_never_share_the_same_room(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.create_schema()
        now = START + timedelta(minutes=42)
        with ThreadPoolExecutor(8) as pool:
            grants = list(pool.map(lambda _: reserve(db, "f", "m", 25, 10, now), range(8)))
        assert sum(granted for granted, _ in grants) == 25
        assert {reopens for _, reopens in grants} == {START + timedelta(hours=1)}
        assert reserve(db, "f", "m", 25, 10, now) == (0, START + timedelta(hours=1))
        assert reserve(db, "f", "m", 25, 10, START + timedelta(hours=1))[0] == 10
        assert reserve(db, "f", "other", 25, 30, now)[0] == 25  # per object
    finally:
        db.dispose()


def test_window_of() -> None:
    assert window_of(START + timedelta(minutes=59, seconds=59)) == START
