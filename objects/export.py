"""``export``: writes one CSV per batch to a location; an existing name gets -2, -3, ...
before the extension, so nothing is overwritten.

``to`` is rendered once per batch (``today``, ``now``, ``flow``, ``object``; no customer). The
name is reserved for the batch in the database before the file is written, so a batch that
runs again after a crash finds its file and does not write a second one; the reservation ends
when the batch's routing commits, and the name may be used again once the file is gone.
Each customer gets an ``exported`` event; replay lists the file under ``effects.exports``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Literal

from pydantic import Field, ValidationInfo, model_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    InputError,
    LocationText,
    ObjectSettings,
    RetrySettings,
    Routing,
    RunContext,
    Settings,
    TemplateText,
    customer_label,
    project_of,
)
from engine.sdk.files import columns_of


class ExportColumn(Settings):
    header: str
    value: TemplateText


class ExportSettings(ObjectSettings, RetrySettings):
    type: Literal["export"]
    to: LocationText
    columns: list[str | ExportColumn] = Field(min_length=1)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True

    @model_validator(mode="after")
    def _fields(self, info: ValidationInfo) -> ExportSettings:
        project = project_of(info)
        if project is not None:
            try:
                columns_of(self.columns, project.customer_fields)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return self


class ExportObject(CampaignObject[ExportSettings]):
    type = "export"

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        columns = columns_of(settings.columns, ctx.project.customer_fields)
        location = ctx.files.export(
            settings.to, batch, columns, delimiter=settings.delimiter, header=settings.header
        )
        at, rows = ctx.now, len(batch)
        ctx.events.add(
            {
                "kind": "exported",
                "at": at,
                "customer_id": journey.customer_id,
                "flow": batch.flow,
                "object": self.id,
                "journey_id": journey.id,
                "data": {"path": location},
            }
            for journey in batch
        )
        ctx.effects.record(
            "exports",
            lambda: {
                "object": self.id,
                "path": location,
                "rows": rows,
                "customers": [customer_label(j.customer) for j in batch],
                "at": at.astimezone(UTC).isoformat(),
            },
        )
        routing.leave_all(batch, "out", f"exported to {location}")
