"""``end``: the journey ends here."""

from __future__ import annotations

from typing import Literal

from engine.sdk import BatchDecision, CampaignObject, ObjectSettings, Way


class EndSettings(ObjectSettings):
    type: Literal["end"]


class End(CampaignObject[EndSettings]):
    type = "end"
    instant = True
    outputs = ()
    reads_customers = False

    def batch_decision(self) -> BatchDecision:
        return BatchDecision((Way(None, "end"),))
