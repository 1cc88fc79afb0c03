"""``event``: a start object that takes customers in when an event happens to them (a bounce,
an unsubscribe, an open, a click), optionally only for one flow or one mail."""

from __future__ import annotations

from typing import Literal

from engine.sdk import CampaignObject, IncomingEvent, ObjectSettings


class EventSettings(ObjectSettings):
    type: Literal["event"]
    event: Literal["bounce", "unsubscribe", "open", "click"]
    flow: str | None = None
    mail: str | None = None


class EventStart(CampaignObject[EventSettings]):
    type = "event"
    can_start = True
    only_start = True
    entry_reason = "event"

    def accepts(self, *, event: IncomingEvent) -> bool:
        settings = self.settings
        return (
            event.kind == settings.event
            and (settings.flow is None or event.flow == settings.flow)
            and (settings.mail is None or event.object == settings.mail)
        )
