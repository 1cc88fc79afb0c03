"""Activity export: the events ``sent``, ``bounce``, ``open``, ``click`` and ``unsubscribe`` as
CSV, incrementally: each target (the location as written) remembers the last event it received,
and the next export starts after it. A run with nothing new writes no file.

The file appears atomically (written under a temporary name, then linked into place) and never
replaces an existing one: ``-2``, ``-3``, ... goes before the extension. The database remembers
the new position only after the file is in place, so a crash in between exports those events
again next time rather than losing them.

To run it on a schedule, call ``sluis activity export --to LOCATION`` from cron, e.g. hourly::

    0 * * * * cd /srv/shop && sluis activity export --to "exports/activity_{{ now|date('%H') }}.csv"
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update

from engine.errors import LocationError
from engine.locations import parse_location
from engine.store import Store
from engine.store.models import ActivityExport, Customer, Event
from engine.templates import Template

COLUMNS = (
    "time",
    "event",
    "external_id",
    "email",
    "flow",
    "object",
    "message_id",
    "url",
    "bounce_type",
)
KINDS = ("sent", "bounce", "open", "click", "unsubscribe")
EVENTS = Event.__table__  # type: ignore[attr-defined]
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
TARGETS = ActivityExport.__table__  # type: ignore[attr-defined]
CHUNK = 5000


@dataclass(frozen=True)
class ActivityFile:
    """What one export wrote: the file (None when there was nothing new) and how many rows."""

    path: Path | None
    rows: int
    last_event_id: int


def export_activity(store: Store, target: str, now: datetime) -> ActivityFile:
    """Write the activity since the last export to ``target`` (a location; its path may hold
    templates with ``now`` and ``today``)."""
    path = _local_path(target, store, now)
    with store.db.read() as conn:
        start = conn.execute(
            select(TARGETS.c.last_event_id).where(TARGETS.c.target == target)
        ).scalar()
    last, rows = start or 0, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, removed in finally)
        "w", newline="", encoding="utf-8", dir=path.parent, prefix=".activity-", delete=False
    )
    try:
        with handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            while True:
                with store.db.read() as conn:
                    chunk = _events_after(conn, last)
                if not chunk:
                    break
                writer.writerows(_row(event) for event in chunk)
                rows += len(chunk)
                last = chunk[-1].id
        if not rows:
            return ActivityFile(None, 0, last)
        final = _place(Path(handle.name), path)
    finally:
        Path(handle.name).unlink(missing_ok=True)
    with store.db.write() as conn:
        done = conn.execute(
            update(TARGETS).where(TARGETS.c.target == target).values(last_event_id=last, at=now)
        ).rowcount
        if not done:
            conn.execute(insert(TARGETS).values(target=target, last_event_id=last, at=now))
    return ActivityFile(final, rows, last)


def _local_path(target: str, store: Store, now: datetime) -> Path:
    project = store.project
    location = parse_location(target, project.settings.connections)
    if location.scheme == "sftp":
        raise LocationError(
            f"'{target}': activity exports write to local paths and file:// for now; export "
            "locally and move the file, or use a path inside the project"
        )
    today = now.astimezone(ZoneInfo(project.settings.timezone)).date()
    name = Template.parse(location.path).render({"now": now, "today": today})
    if not name or name.endswith("/"):
        raise LocationError(f"'{target}' names a folder; give a file name such as activity.csv")
    path = Path(name)
    return path if location.scheme == "file" else project.root / path


def _events_after(conn: Connection, last: int) -> list[Any]:
    query = (
        select(
            EVENTS.c.id,
            EVENTS.c.at,
            EVENTS.c.kind,
            EVENTS.c.flow,
            EVENTS.c.object,
            EVENTS.c.data,
            CUSTOMERS.c.external_id,
            CUSTOMERS.c.email,
        )
        .select_from(EVENTS.outerjoin(CUSTOMERS, CUSTOMERS.c.system_id == EVENTS.c.customer_id))
        .where(EVENTS.c.id > last, EVENTS.c.kind.in_(KINDS))
        .order_by(EVENTS.c.id)
        .limit(CHUNK)
    )
    return list(conn.execute(query))


def _row(event: Any) -> list[Any]:
    data = event.data or {}
    return [
        event.at.astimezone(UTC).isoformat(),
        event.kind,
        event.external_id or "",
        event.email or "",
        event.flow or "",
        event.object or "",
        data.get("message_id") or "",
        data.get("url") or "",
        data.get("bounce_type") or "",
    ]


def _place(written: Path, wanted: Path) -> Path:
    """Link the written file to ``wanted``, or ``-2``, ``-3``, ... when the name is taken;
    a hard link never replaces an existing file."""
    for number in range(1, 10_000):
        name = wanted if number == 1 else wanted.with_stem(f"{wanted.stem}-{number}")
        try:
            os.link(written, name)
        except FileExistsError:
            continue
        return name
    raise LocationError(f"{wanted}: too many files with this name; clean up the folder")
