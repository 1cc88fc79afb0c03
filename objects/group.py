"""``group``: adds customers to groups and removes them from others."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator, model_validator

from engine.sdk import (
    AddToGroups,
    BatchDecision,
    CampaignObject,
    ObjectSettings,
    RemoveFromGroups,
    Way,
)


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

    def batch_decision(self) -> BatchDecision:
        settings = self.settings
        parts: list[str] = []
        changes: list[AddToGroups | RemoveFromGroups] = []
        if settings.add:
            parts.append(f"added to {', '.join(settings.add)}")
            changes.append(AddToGroups(tuple(settings.add)))
        if settings.remove:
            parts.append(f"removed from {', '.join(settings.remove)}")
            changes.append(RemoveFromGroups(tuple(settings.remove)))
        return BatchDecision((Way("out", "; ".join(parts)),), tuple(changes))
