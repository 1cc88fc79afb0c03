"""Event records: what happened to a customer or a start object (sent, failed, open, click,
bounce, unsubscribe, exported, http_ok, ...), one row of the ``events`` table each.

``EventRecord`` is how every part of sluis writes one, and ``add_events`` stores them in one
statement, so no module builds the table's rows by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from engine.store.bulk import insert_many
from engine.store.models import Event

EVENTS = Event.__table__  # type: ignore[attr-defined]
EVENT_DEFAULTS: Mapping[str, Any] = {
    "customer_id": None,
    "flow": None,
    "object": None,
    "journey_id": None,
    "data": {},
}


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
    rows = [e.row() if isinstance(e, EventRecord) else {**EVENT_DEFAULTS, **e} for e in events]
    if rows:
        insert_many(conn, EVENTS, rows)
