"""``split``: sends each customer down the first branch whose expression holds, or divides
customers by percentages (deterministic per flow, object and customer). Customers matching no
branch leave by ``otherwise``."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, model_validator

from engine.sdk import Batch, CampaignObject, ExpressionText, ObjectSettings, Routing, RunContext

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


def bucket_of(flow: str, object_id: str, customer_id: int) -> float:
    """A stable number in [0, 100) for (flow, object, customer): the same in every run."""
    digest = hashlib.sha256(f"{flow}\x00{object_id}\x00{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


class Split(CampaignObject[SplitSettings]):
    type = "split"
    routes_by_name = True
    instant = True

    @classmethod
    def outputs_for(cls, settings: SplitSettings) -> tuple[str, ...]:
        return (*(settings.branches or settings.percent or {}), OTHERWISE)

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        if settings.percent is not None:
            edges = []
            total = 0.0
            for name, share in settings.percent.items():
                total += share
                edges.append((total, name, share))
            for journey in batch:
                point = bucket_of(batch.flow, batch.object_id, journey.customer_id)
                for edge, name, share in edges:
                    if point < edge:
                        routing.leave(journey, name, f"{name}: in the {share:g}% share")
                        break
                else:
                    routing.leave(journey, OTHERWISE, "otherwise: outside the percent shares")
            return
        branches = list((settings.branches or {}).items())
        for journey in batch:
            scope = ctx.scope(journey)
            for name, expr in branches:
                if expr.test(scope):
                    routing.leave(journey, name, f"{name}: {expr} was true")
                    break
            else:
                routing.leave(journey, OTHERWISE, "otherwise: no branch matched")
