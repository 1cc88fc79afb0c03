"""``filter``: customers for whom ``when`` holds leave by ``out``, the others by ``filtered``
(which ends their journey unless it is routed)."""

from __future__ import annotations

from typing import Literal

from engine.sdk import Batch, CampaignObject, ExpressionText, ObjectSettings, Routing, RunContext


class FilterSettings(ObjectSettings):
    type: Literal["filter"]
    when: ExpressionText


class Filter(CampaignObject[FilterSettings]):
    type = "filter"
    instant = True
    outputs = ("out", "filtered")

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        when = settings.when
        passed, failed = f"{when} was true", f"filtered: {when} was false"
        for journey in batch:
            if when.test(ctx.scope(journey)):
                routing.leave(journey, "out", passed)
            else:
                routing.leave(journey, "filtered", failed)
