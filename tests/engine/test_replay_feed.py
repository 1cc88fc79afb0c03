"""Replay feeds ``--events`` a run at a time (one customer lookup, one transaction): the
journeys it wakes, the events it stores and its messages are those of feeding them one by
one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.errors import InputError
from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.replay import Replay

FLOW = """
objects:
  everyone: {type: selection, next: opened}
  opened: {type: wait-for, event: open, within: 3d, next: {yes: done, no: done}}
  done: {type: end}
"""
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _replay(make: Callable[..., Project], tmp_path: Path, events: list[str]) -> Replay:
    project = make("timezone: UTC\n", {"f": FLOW})
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "external_id,email\n" + "".join(f"C{n},c{n}@example.com\n" for n in range(4))
    )
    feed = tmp_path / "events.csv"
    feed.write_text("customer,event,at\n" + "".join(f"{line}\n" for line in events))
    return Replay(project, find_flow(project, "f"), customers, events=feed, start=START)


def test_events_of_one_moment_wake_each_customer_once_at_the_earliest(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    session = _replay(
        make_project,
        tmp_path,
        [
            "C0,open,2026-01-06T09:00:00+00:00",
            "c1@example.com,open,2026-01-06T09:00:00+00:00",  # found by email
            "C0,open,2026-01-06T09:00:00+00:00",  # the same customer again: stored twice
            "C1,click,2026-01-06T09:00:00+00:00",  # not what the journey waits for
            "C2,open,2026-01-07T09:00:00+00:00",
        ],
    )
    try:
        session.run()
        document = session.document()
        with session.store.db.read() as conn:
            stored = conn.execute(text("SELECT count(*) FROM events WHERE kind <> 'sent'")).one()[0]
    finally:
        session.close()
    outputs = {
        j["customer"]: [(s["object"], s["output"], s["at"]) for s in j["steps"]][1]
        for j in document["journeys"]
    }
    assert stored == 5
    assert outputs == {
        "C0": ("opened", "yes", "2026-01-06T09:00:00+00:00"),
        "C1": ("opened", "yes", "2026-01-06T09:00:00+00:00"),
        "C2": ("opened", "yes", "2026-01-07T09:00:00+00:00"),
        "C3": ("opened", "no", "2026-01-08T09:00:00+00:00"),
    }


def test_an_unknown_customer_is_named_with_its_row(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    session = _replay(
        make_project,
        tmp_path,
        ["C0,open,2026-01-06T09:00:00+00:00", "C9,open,2026-01-06T09:00:00+00:00"],
    )
    try:
        with pytest.raises(InputError, match="events row 3: no customer 'C9'"):
            session.run()
    finally:
        session.close()
