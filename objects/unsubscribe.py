"""``unsubscribe``: unsubscribes customers from all mail (``scope: all``) or from this flow's
mails only (``scope: flow``, recorded as an unsubscribe event of the flow)."""

from __future__ import annotations

from typing import Any, Literal

from engine.sdk.batch import Batch, Routing
from engine.sdk.campaign import CampaignObject, ObjectSettings
from engine.sdk.context import RunContext


class UnsubscribeSettings(ObjectSettings):
    type: Literal["unsubscribe"]
    scope: Literal["all", "flow"] = "all"


class Unsubscribe(CampaignObject):
    type = "unsubscribe"
    Settings = UnsubscribeSettings
    instant = True
    reads_customers = False

    def run(self, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        from sqlalchemy import update

        from engine.store.journeys import add_events
        from engine.store.models import Customer

        customers = Customer.__table__  # type: ignore[attr-defined]

        settings = self.settings
        assert isinstance(settings, UnsubscribeSettings)
        ids = [j.customer_id for j in batch]
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

        def change(conn: Any) -> None:
            if settings.scope == "all":
                for start in range(0, len(ids), 500):
                    conn.execute(
                        update(customers)
                        .where(customers.c.system_id.in_(ids[start : start + 500]))
                        .values(unsubscribed=True, updated_at=now)
                    )
            add_events(conn, events)

        ctx.write(change)
