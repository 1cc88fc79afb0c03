"""``update``: sets customer fields to templates or literal values."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    CustomerField,
    ObjectSettings,
    Routing,
    RunContext,
    SluisError,
    TemplateText,
    convert,
    render_value,
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

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        types = ctx.customers.field_types()
        changes = {}
        names = ", ".join(settings.set)
        for journey in batch:
            scope = ctx.scope(journey)
            try:
                values = {
                    name: convert(render_value(value, scope), types[name])
                    for name, value in settings.set.items()
                }
            except (ValueError, SluisError) as exc:
                routing.fail(journey, f"failed: {exc}")
                continue
            changes[journey.customer_id] = values
            routing.leave(journey, "out", f"set {names}")
        if changes:
            ctx.customers.set_fields(changes)
