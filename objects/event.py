"""``event``: a start object that takes customers in when an event happens to them (a bounce,
an unsubscribe, an open, a click), optionally only for one flow or one mail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from engine.sdk.batch import Entry
from engine.sdk.campaign import CampaignObject, ObjectSettings

if TYPE_CHECKING:
    from engine.runtime.runner import IncomingEvent


class EventSettings(ObjectSettings):
    type: Literal["event"]
    event: Literal["bounce", "unsubscribe", "open", "click"]
    flow: str | None = None
    mail: str | None = None


class EventStart(CampaignObject):
    type = "event"
    Settings = EventSettings
    can_start = True
    only_start = True
    entry_reason = "event"

    def accepts(self, event: IncomingEvent) -> Entry | None:
        """The entry for ``event`` when it is one this object waits for."""
        settings = self.settings
        assert isinstance(settings, EventSettings)
        if event.kind != settings.event:
            return None
        if settings.flow is not None and event.flow != settings.flow:
            return None
        if settings.mail is not None and event.object != settings.mail:
            return None
        data = {
            "event": {
                "kind": event.kind,
                "at": event.at.isoformat(),
                "flow": event.flow,
                "object": event.object,
                **dict(event.data or {}),
            }
        }
        return Entry(event.customer_id, data, f"{event.kind} event")
