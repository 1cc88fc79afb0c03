"""Events as objects see them: an open, click, bounce or unsubscribe that happened to a
customer. Start objects fed by events (``accepts``) let its customer enter with the event as
entry data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.sdk.batch import Entry


@dataclass(frozen=True)
class IncomingEvent:
    """An event about a customer (open, click, bounce, unsubscribe, ...)."""

    kind: str
    customer_id: int
    at: datetime
    flow: str | None = None
    object: str | None = None
    data: Mapping[str, Any] | None = None

    def entry(self) -> Entry:
        """The entry of this event's customer: the event is its ``data.event``."""
        data = {
            "event": {
                "kind": self.kind,
                "at": self.at.isoformat(),
                "flow": self.flow,
                "object": self.object,
                **dict(self.data or {}),
            }
        }
        return Entry(self.customer_id, data, f"{self.kind} event")
