"""Activity export: the events ``sent``, ``bounce``, ``open``, ``click`` and ``unsubscribe`` as
CSV, incrementally: each target (the location as written) remembers the last event it received,
and the next export starts after it. A run with nothing new writes no file.

The file goes to any location (a project path, ``file:///``, ``sftp://``) through the files
sink: written under a temporary name, then given its name without replacing anything (``-2``,
``-3``, ... goes before the extension when the name exists). The database remembers the new
position only after the file is in place, so a crash in between exports those events again
next time rather than losing them.

To run it on a schedule, call ``sluis activity export --to LOCATION`` from cron, e.g. hourly::

    0 * * * * cd /srv/shop && sluis activity export --to "exports/activity_{{ now|date('%H') }}.csv"
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import Connection, insert, select, update

from engine.files import Files, NameTaken
from engine.model.templates import local_today
from engine.store import Store
from engine.store.models import ACTIVITY_EXPORTS, CUSTOMERS, EVENTS

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
TARGETS = ACTIVITY_EXPORTS
CHUNK = 5000


@dataclass(frozen=True)
class ActivityFile:
    """What one export wrote: where (None when there was nothing new) and how many rows."""

    location: str | None
    rows: int
    last_event_id: int


def export_activity(store: Store, target: str, now: datetime, files: Files) -> ActivityFile:
    """Write the activity since the last export to ``target`` (a location; its path may hold
    templates with ``now`` and ``today``)."""
    project = store.project
    today = local_today(now, project.settings.timezone)
    place = files.place(target, project, {"now": now, "today": today})
    with store.db.read() as conn:
        start = (
            conn.execute(select(TARGETS.c.last_event_id).where(TARGETS.c.target == target)).scalar()
            or 0
        )
        if not _events_after(conn, start, limit=1):
            return ActivityFile(None, 0, start)
    for candidate in place.free_names():
        try:
            with candidate.writer() as handle:
                rows, last = _write(handle, store, start)
        except NameTaken:
            continue  # taken while we wrote: the next number
        break
    with store.db.write() as conn:
        done = conn.execute(
            update(TARGETS).where(TARGETS.c.target == target).values(last_event_id=last, at=now)
        ).rowcount
        if not done:
            conn.execute(insert(TARGETS).values(target=target, last_event_id=last, at=now))
    return ActivityFile(str(candidate), rows, last)


def _write(handle: BinaryIO, store: Store, start: int) -> tuple[int, int]:
    """Every event after ``start`` as CSV rows; returns (rows, the last event id)."""
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    rows, last = 0, start
    for chunk in _chunks(store, start):
        writer.writerows(_row(event) for event in chunk)
        rows += len(chunk)
        last = chunk[-1].id
    text.flush()
    text.detach()
    return rows, last


def _chunks(store: Store, start: int) -> Iterator[list[Any]]:
    while True:
        with store.db.read() as conn:
            chunk = _events_after(conn, start)
        if not chunk:
            return
        yield chunk
        start = chunk[-1].id


def _events_after(conn: Connection, last: int, limit: int = CHUNK) -> list[Any]:
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
        .limit(limit)
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
