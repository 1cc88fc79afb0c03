"""Event records: what happened to a customer or a start object (sent, failed, open, click,
bounce, unsubscribe, exported, http_ok, ...), one row of the ``events`` table each.

``EventRecord`` is how every part of sluis writes one, and ``add_events`` stores them in one
statement, so no module builds the table's rows by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection

from engine.store.bulk import insert_columns, insert_many
from engine.store.models import EVENTS

EVENT_DEFAULTS: Mapping[str, Any] = {
    "customer_id": None,
    "flow": None,
    "object": None,
    "journey_id": None,
    "data": {},
}

_COLUMNS = ("kind", "at", "customer_id", "flow", "object", "journey_id")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event to store: its kind and time, and whom and where it concerns (a start
    object's failed firing concerns no customer)."""

    kind: str
    at: datetime
    customer_id: int | None = None
    flow: str | None = None
    object: str | None = None
    journey_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The record as a row of the ``events`` table."""
        return {
            "kind": self.kind,
            "at": self.at,
            "customer_id": self.customer_id,
            "flow": self.flow,
            "object": self.object,
            "journey_id": self.journey_id,
            "data": self.data if type(self.data) is dict else dict(self.data),
        }


def add_events(conn: Connection, events: Iterable[EventRecord | Mapping[str, Any]]) -> None:
    """Store events in the caller's transaction. Mappings with the record's keys (``kind``
    and ``at``, the rest optional) are taken too, for object modules written before
    ``EventRecord``."""
    given = list(events)
    if given and all(type(e) is EventRecord for e in given):
        insert_columns(conn, EVENTS, _columns(given))  # type: ignore[arg-type]
        return
    rows = [e.row() if isinstance(e, EventRecord) else {**EVENT_DEFAULTS, **e} for e in given]
    if rows:
        insert_many(conn, EVENTS, rows)


def _columns(records: list[EventRecord]) -> dict[str, list[Any]]:
    """The records as the table's columns (a row per record, no mapping made per row)."""
    columns = {name: list(map(attrgetter(name), records)) for name in _COLUMNS}
    columns["data"] = [e.data if type(e.data) is dict else dict(e.data) for e in records]
    return columns
