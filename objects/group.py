"""``group``: adds customers to groups and removes them from others."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator, model_validator

from engine.sdk.batch import Batch, Routing
from engine.sdk.campaign import CampaignObject, ObjectSettings
from engine.sdk.context import RunContext


class GroupSettings(ObjectSettings):
    type: Literal["group"]
    add: list[str] = []
    remove: list[str] = []

    @field_validator("add", "remove", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _something(self) -> GroupSettings:
        if not self.add and not self.remove:
            raise ValueError("a group object needs 'add' or 'remove' (group names)")
        return self


class GroupObject(CampaignObject):
    type = "group"
    Settings = GroupSettings
    instant = True
    reads_customers = False

    def run(self, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        from engine.store.customers import add_to_groups, remove_from_groups

        settings = self.settings
        assert isinstance(settings, GroupSettings)
        ids = [j.customer_id for j in batch]
        parts = []
        if settings.add:
            parts.append(f"added to {', '.join(settings.add)}")
        if settings.remove:
            parts.append(f"removed from {', '.join(settings.remove)}")
        reason = "; ".join(parts)
        routing.leave_all(batch, "out", reason)
        now = ctx.now

        def change(conn: Any) -> None:
            if settings.add:
                add_to_groups(conn, ids, settings.add, now)
            if settings.remove:
                remove_from_groups(conn, ids, settings.remove)

        ctx.write(change)
