"""``filter``: customers for whom ``when`` holds leave by ``out``, the others by ``filtered``
(which ends their journey unless it is routed)."""

from __future__ import annotations

from typing import Literal

from engine.sdk import BatchDecision, CampaignObject, ExpressionText, ObjectSettings, Way


class FilterSettings(ObjectSettings):
    type: Literal["filter"]
    when: ExpressionText


class Filter(CampaignObject[FilterSettings]):
    type = "filter"
    instant = True
    outputs = ("out", "filtered")

    def batch_decision(self) -> BatchDecision:
        when = self.settings.when
        return BatchDecision(
            (Way("out", f"{when} was true", when), Way("filtered", f"filtered: {when} was false"))
        )
