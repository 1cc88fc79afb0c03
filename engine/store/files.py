"""File records in the store (the ``files`` table): what sluis did with which file, so a file is
handled once even when the engine stops halfway. Exports reserve their file name per batch
here, CSV triggers note the files they saw, took and finished, and imports note a committed
import whose ``after`` step (move or delete) is still to do.

A record's ``key`` is unique per kind while the record is open; closing a record adds its id
to the key, so the same name can be opened again later (the next file with that name).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from engine.store.models import FILES

F = FILES.c


def get(conn: Connection, record_id: int) -> Any:
    """The record with this id, or None."""
    return conn.execute(select(FILES).where(F.id == record_id)).first()


def find(conn: Connection, kind: str, key: str) -> Any:
    """The open record of ``kind`` with ``key``, or None."""
    return conn.execute(select(FILES).where(F.kind == kind, F.key == key)).first()


def find_batch(conn: Connection, kind: str, batch: str) -> Any:
    """The open record a batch made (exports), or None."""
    query = select(FILES).where(F.kind == kind, F.batch == batch, F.state != "closed")
    return conn.execute(query.order_by(F.id)).first()


def of_object(conn: Connection, kind: str, flow: str, object_id: str) -> list[Any]:
    """The open records of one object."""
    return list(conn.execute(_OF_OBJECT, {"kind": kind, "flow": flow, "object_id": object_id}))


# built once: a CSV trigger asks at every poll (every 30 s of a demo's two simulated weeks)
_OF_OBJECT = (
    select(FILES)
    .where(
        F.kind == bindparam("kind"),
        F.flow == bindparam("flow"),
        F.object == bindparam("object_id"),
        F.state != "closed",
    )
    .order_by(F.id)
)


def add(
    conn: Connection,
    kind: str,
    key: str,
    *,
    location: str,
    state: str,
    now: datetime,
    flow: str | None = None,
    object_id: str | None = None,
    batch: str | None = None,
    size: int | None = None,
    mtime: float | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Open a record; the database refuses a second open record with the same kind and key."""
    return int(
        conn.execute(
            insert(FILES)
            .values(
                kind=kind,
                key=key,
                flow=flow,
                object=object_id,
                batch=batch,
                location=location,
                state=state,
                size=size,
                mtime=mtime,
                detail=dict(detail or {}),
                created_at=now,
                updated_at=now,
            )
            .returning(F.id)
        ).scalar_one()
    )


def change(conn: Connection, record_id: int, now: datetime, **values: Any) -> None:
    """Set columns of a record (state, key, location, size, mtime, detail)."""
    conn.execute(update(FILES).where(F.id == record_id).values(updated_at=now, **values))


def close(conn: Connection, record_id: int, now: datetime, **values: Any) -> None:
    """Close a record: its key is free again, the record stays as history."""
    row = conn.execute(select(F.key).where(F.id == record_id)).first()
    if row is None:
        return
    change(conn, record_id, now, state="closed", key=f"{row.key}#{record_id}", **values)


def remove(conn: Connection, record_id: int) -> None:
    conn.execute(delete(FILES).where(F.id == record_id))
