"""``unsubscribe``: unsubscribes customers from all mail (``scope: all``) or from this flow's
mails only (``scope: flow``, recorded as an unsubscribe event of the flow)."""

from __future__ import annotations

from typing import Literal

from engine.sdk import Batch, CampaignObject, ObjectSettings, Routing, RunContext


class UnsubscribeSettings(ObjectSettings):
    type: Literal["unsubscribe"]
    scope: Literal["all", "flow"] = "all"


class Unsubscribe(CampaignObject[UnsubscribeSettings]):
    type = "unsubscribe"
    instant = True
    reads_customers = False

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        for journey in batch:
            routing.leave(
                journey,
                "out",
                f"unsubscribed from {'all mail' if settings.scope == 'all' else 'this flow'}",
            )
        now, flow, oid = ctx.now, batch.flow, batch.object_id
        events = [
            {
                "kind": "unsubscribe",
                "at": now,
                "customer_id": j.customer_id,
                "flow": flow,
                "object": oid,
                "journey_id": j.id,
                "data": {"scope": settings.scope},
            }
            for j in batch
        ]

        if settings.scope == "all":
            ctx.customers.unsubscribe([j.customer_id for j in batch])
        ctx.events.add(events)
