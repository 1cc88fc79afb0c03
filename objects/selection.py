"""``selection``: a start object that selects customers by an expression and/or a group, once
when the flow starts or on a cron schedule. Customers enter in system_id order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from engine.sdk import (
    CampaignObject,
    Cron,
    CronTrigger,
    Entry,
    ExpressionText,
    ObjectSettings,
    Once,
    RunContext,
    Trigger,
)


class SelectionSettings(ObjectSettings):
    type: Literal["selection"]
    where: ExpressionText | None = None
    group: str | None = None
    schedule: Cron | None = None


class Selection(CampaignObject[SelectionSettings]):
    type = "selection"
    outputs = ("out",)
    can_start = True
    only_start = True
    entry_reason = "selected"

    def trigger(self) -> Trigger:
        settings = self.settings
        return CronTrigger(settings.schedule) if settings.schedule else Once()

    def entries(self, *, ctx: RunContext) -> Iterator[Entry]:
        settings = self.settings
        for chunk in ctx.customers.select(group=settings.group):
            # records (when the expression uses them) load for the whole chunk at once
            ctx.batch_customers = [customer["system_id"] for customer in chunk]
            for customer in chunk:
                if settings.where is None or settings.where.test(
                    {
                        "customer": customer,
                        "data": {},
                        "now": ctx.now,
                        "today": ctx.today,
                        "records": ctx.records_of(customer["system_id"]),
                    }
                ):
                    yield Entry(customer["system_id"])
