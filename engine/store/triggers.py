"""When start objects fire: the ``triggers`` table, one row per start object of a started flow
with a schedule, its next due time (None: never again) and when it last fired."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection

from engine.model.retries import Tries
from engine.store.models import TRIGGERS
from engine.store.raw import execute_many, fetch, json_value, marks, time_param, time_value


class Due(NamedTuple):
    """A start object whose time has come."""

    flow: str
    object: str
    due_at: datetime


def reset(conn: Connection, flow: str, object_id: str, due: datetime | None) -> None:
    """The start object fires first at ``due`` (None: not by itself); what it did before is
    forgotten."""
    conn.execute(TRIGGERS.delete().where(TRIGGERS.c.flow == flow, TRIGGERS.c.object == object_id))
    conn.execute(TRIGGERS.insert().values(flow=flow, object=object_id, due_at=due, last_at=None))


def keep_only(conn: Connection, flow: str, objects: Sequence[str]) -> None:
    """Forget the schedules of ``flow``'s objects other than ``objects`` (a deploy removed
    them, or they are start objects no more)."""
    statement = "DELETE FROM triggers WHERE flow = ?"
    if objects:
        statement += f" AND object NOT IN ({marks(len(objects))})"
    execute_many(conn, statement, [(flow, *objects)])


def due(conn: Connection, flows: Sequence[str], now: datetime) -> list[Due]:
    """The start objects of ``flows`` due at ``now``, the longest due first."""
    return [
        Due(flow, oid, time_value(at) or now)  # due_at <= now: never None
        for flow, oid, at in fetch(
            conn,
            "SELECT flow, object, due_at FROM triggers WHERE due_at <= ? "
            f"AND flow IN ({marks(len(flows))}) ORDER BY due_at, flow, object",
            [time_param(conn, now), *flows],
        )
    ]


def fired(conn: Connection, flow: str, object_id: str, now: datetime, due: datetime | None) -> None:
    """The start object fired at ``now`` and fires next at ``due``."""
    execute_many(
        conn,
        "UPDATE triggers SET last_at = ?, due_at = ? WHERE flow = ? AND object = ?",
        [(time_param(conn, now), time_param(conn, due), flow, object_id)],
    )


def next_due(conn: Connection, flows: Sequence[str]) -> datetime | None:
    """The earliest time a start object of ``flows`` fires, or None."""
    moments = [
        time_value(at)
        for (at,) in fetch(
            conn,
            "SELECT due_at FROM triggers WHERE due_at IS NOT NULL "
            f"AND flow IN ({marks(len(flows))})",
            flows,
        )
    ]
    found = [m for m in moments if m is not None]
    return min(found) if found else None


def due_of(conn: Connection, flow: str, object_id: str) -> datetime | None:
    """When one start object fires next (None: not scheduled, or never again)."""
    found = fetch(
        conn, "SELECT due_at FROM triggers WHERE flow = ? AND object = ?", [flow, object_id]
    )
    return time_value(found[0][0]) if found else None


def tries_failed(conn: Connection, flow: str, object_id: str) -> Tries:
    """How many firings in a row of this start object failed transiently, and when the first
    of them was, when its latest firing was such a failure (its ``failed`` event, at the
    trigger's ``last_at``, counts them); else no tries."""
    found = fetch(
        conn,
        "SELECT e.data, e.at FROM events e JOIN triggers t "
        "ON t.flow = e.flow AND t.object = e.object "
        "WHERE e.kind = 'failed' AND e.flow = ? AND e.object = ? AND e.customer_id IS NULL "
        "AND e.at = t.last_at ORDER BY e.id DESC LIMIT 1",
        [flow, object_id],
    )
    if not found:
        return Tries(0, None)
    data = json_value(found[0][0]) or {}
    first = data.get("first")
    return Tries(
        int(data.get("tries") or 0),
        datetime.fromisoformat(first) if first else time_value(found[0][1]),
    )
