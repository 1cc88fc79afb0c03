"""``update``: sets customer fields to templates or literal values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import field_validator

from engine.errors import SluisError
from engine.model.fields import convert
from engine.model.settings import CustomerField, TemplateText
from engine.model.templates import render_value
from engine.sdk.batch import Batch, Routing
from engine.sdk.campaign import CampaignObject, ObjectSettings
from engine.sdk.context import RunContext

if TYPE_CHECKING:
    from sqlalchemy import Connection

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


class Update(CampaignObject):
    type = "update"
    Settings = UpdateSettings
    instant = True

    def run(self, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        from engine.store.customers import field_types, set_fields

        settings = self.settings
        assert isinstance(settings, UpdateSettings)
        types = field_types(ctx.project)
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
            project, now = ctx.project, ctx.now

            def change(conn: Connection) -> None:
                set_fields(conn, changes, project, now)

            ctx.write(change)
