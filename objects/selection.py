"""``selection``: a start object that selects customers by an expression and/or a group, once
when the flow starts or on a cron schedule. Customers enter in system_id order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from engine.model.settings import Cron, ExpressionText
from engine.sdk.batch import Entry
from engine.sdk.campaign import CampaignObject, CronTrigger, ObjectSettings, Once, Trigger
from engine.sdk.context import RunContext


class SelectionSettings(ObjectSettings):
    type: Literal["selection"]
    where: ExpressionText | None = None
    group: str | None = None
    schedule: Cron | None = None


class Selection(CampaignObject):
    type = "selection"
    Settings = SelectionSettings
    outputs = ("out",)
    can_start = True
    only_start = True
    entry_reason = "selected"

    def trigger(self) -> Trigger:
        settings = self.settings
        assert isinstance(settings, SelectionSettings)
        return CronTrigger(settings.schedule) if settings.schedule else Once()

    def entries(self, ctx: RunContext) -> Iterator[Entry]:
        from engine.store.customers import iter_customers

        settings = self.settings
        assert isinstance(settings, SelectionSettings)
        with ctx.store.db.read() as conn:
            for chunk in iter_customers(conn, ctx.project, group=settings.group):
                for customer in chunk:
                    if settings.where is None or settings.where.test(
                        {"customer": customer, "data": {}, "now": ctx.now, "today": ctx.today}
                    ):
                        yield Entry(customer["system_id"])
