"""``selection``: a start object that selects customers by an expression and/or a group, once
when the flow starts or on a cron schedule. Customers enter in system_id order. The expression
runs in the database (compiled to SQL); one that cannot is a validation error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from engine.sdk import (
    CampaignObject,
    Cron,
    CronTrigger,
    Entry,
    ObjectSettings,
    Once,
    RunContext,
    SegmentText,
    Trigger,
)


class SelectionSettings(ObjectSettings):
    type: Literal["selection"]
    where: SegmentText | None = None
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
        for ids in ctx.customers.matching(settings.where, group=settings.group):
            for system_id in ids:
                yield Entry(system_id)
