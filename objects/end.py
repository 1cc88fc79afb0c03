"""``end``: the journey ends here."""

from __future__ import annotations

from typing import Literal

from engine.sdk.batch import Batch, Routing
from engine.sdk.campaign import CampaignObject, ObjectSettings
from engine.sdk.context import RunContext


class EndSettings(ObjectSettings):
    type: Literal["end"]


class End(CampaignObject):
    type = "end"
    Settings = EndSettings
    instant = True
    outputs = ()
    reads_customers = False

    def run(self, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        routing.leave_all(batch, None, "end")
