"""``unsubscribe``: unsubscribes customers from all mail (``scope: all``) or from this flow's
mails only (``scope: flow``, recorded as an unsubscribe event of the flow)."""

from __future__ import annotations

from typing import Literal

from engine.sdk import (
    BatchDecision,
    CampaignObject,
    ObjectSettings,
    RecordEvent,
    UnsubscribeAll,
    Way,
)


class UnsubscribeSettings(ObjectSettings):
    type: Literal["unsubscribe"]
    scope: Literal["all", "flow"] = "all"


class Unsubscribe(CampaignObject[UnsubscribeSettings]):
    type = "unsubscribe"
    instant = True
    reads_customers = False

    def batch_decision(self) -> BatchDecision:
        scope = self.settings.scope
        event = RecordEvent("unsubscribe", {"scope": scope})
        if scope == "all":
            return BatchDecision(
                (Way("out", "unsubscribed from all mail"),), (UnsubscribeAll(), event)
            )
        return BatchDecision((Way("out", "unsubscribed from this flow"),), (event,))
