"""``split``: sends each customer down the first branch whose expression holds, or divides
customers by percentages (deterministic per flow, object and customer). Customers matching no
branch leave by ``otherwise``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from engine.sdk import (
    BatchDecision,
    CampaignObject,
    ExpressionText,
    ObjectSettings,
    Share,
    Way,
)

OTHERWISE = "otherwise"


class SplitSettings(ObjectSettings):
    type: Literal["split"]
    branches: dict[str, ExpressionText] | None = Field(
        default=None, description="ordered mapping branch name -> expression; first match wins"
    )
    percent: dict[str, float] | None = Field(
        default=None, description="mapping branch name -> share in percent"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SplitSettings:
        if (self.branches is None) == (self.percent is None):
            raise ValueError(
                "give either 'branches' (expressions) or 'percent' (shares), not both or neither"
            )
        names = list(self.branches or self.percent or {})
        if not names:
            raise ValueError("a split needs at least one branch")
        if OTHERWISE in names:
            raise ValueError(
                "'otherwise' is the split's own output for the rest; name the branch differently"
            )
        if self.percent is not None:
            if any(v < 0 for v in self.percent.values()):
                raise ValueError("percent shares cannot be negative")
            total = sum(self.percent.values())
            if total > 100.0001:
                raise ValueError(f"percent shares add up to {total:g}, more than 100")
        return self


class Split(CampaignObject[SplitSettings]):
    type = "split"
    routes_by_name = True
    instant = True

    @classmethod
    def outputs_for(cls, settings: SplitSettings) -> tuple[str, ...]:
        return (*(settings.branches or settings.percent or {}), OTHERWISE)

    def batch_decision(self) -> BatchDecision:
        settings = self.settings
        ways = []
        if settings.percent is not None:
            total = 0.0
            for name, share in settings.percent.items():
                total += share
                ways.append(Way(name, f"{name}: in the {share:g}% share", Share(total)))
            rest = Way(OTHERWISE, "otherwise: outside the percent shares")
        else:
            for name, expr in (settings.branches or {}).items():
                ways.append(Way(name, f"{name}: {expr} was true", expr))
            rest = Way(OTHERWISE, "otherwise: no branch matched")
        return BatchDecision((*ways, rest))
