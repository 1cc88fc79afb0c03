"""``end``: the journey ends here."""

from __future__ import annotations

from typing import Literal

from engine.sdk import Batch, CampaignObject, ObjectSettings, Routing, RunContext


class EndSettings(ObjectSettings):
    type: Literal["end"]


class End(CampaignObject[EndSettings]):
    type = "end"
    instant = True
    outputs = ()
    reads_customers = False

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        routing.leave_all(batch, None, "end")
