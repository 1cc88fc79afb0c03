"""``group``: adds customers to groups and removes them from others."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator, model_validator

from engine.sdk import Batch, CampaignObject, ObjectSettings, Routing, RunContext


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


class GroupObject(CampaignObject[GroupSettings]):
    type = "group"
    instant = True
    reads_customers = False

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        ids = [j.customer_id for j in batch]
        parts = []
        if settings.add:
            parts.append(f"added to {', '.join(settings.add)}")
        if settings.remove:
            parts.append(f"removed from {', '.join(settings.remove)}")
        reason = "; ".join(parts)
        routing.leave_all(batch, "out", reason)
        if settings.add:
            ctx.groups.add(ids, settings.add)
        if settings.remove:
            ctx.groups.remove(ids, settings.remove)
