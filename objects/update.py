"""``update``: sets customer fields to templates or literal values."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from engine.sdk import (
    BatchDecision,
    CampaignObject,
    CustomerField,
    ObjectSettings,
    SetFields,
    TemplateText,
    Way,
)

READ_ONLY = ("system_id", "groups", "created_at", "updated_at")


class UpdateSettings(ObjectSettings):
    type: Literal["update"]
    set: dict[CustomerField, TemplateText | None]

    @field_validator("set")
    @classmethod
    def _writable(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if name in READ_ONLY:
                fix = "use a group object" if name == "groups" else "sluis sets it itself"
                raise ValueError(f"'{name}' cannot be set; {fix}")
        if not value:
            raise ValueError("'set' needs at least one field: value")
        return value


class Update(CampaignObject[UpdateSettings]):
    type = "update"
    instant = True

    def batch_decision(self) -> BatchDecision:
        values = self.settings.set
        return BatchDecision((Way("out", f"set {', '.join(values)}"),), (SetFields(values),))
