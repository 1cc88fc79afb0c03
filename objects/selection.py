"""``selection``: a start object that selects customers by an expression and/or a group, once
when the flow starts or on a cron schedule. Customers enter in system_id order. The expression
runs in the database (compiled to SQL; one that cannot is a validation error), and so does the
entering: the selection is a ``Segment``, entered with one statement."""

from __future__ import annotations

from typing import Literal

from engine.sdk import (
    CampaignObject,
    Cron,
    CronTrigger,
    ObjectSettings,
    Once,
    Segment,
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

    def segment(self) -> Segment:
        return Segment(self.settings.where, self.settings.group)
