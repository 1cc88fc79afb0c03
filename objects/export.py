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
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationInfo, model_validator

from engine.errors import InputError
from engine.files import NameTaken
from engine.files.exports import columns_of, reserve, write_csv
from engine.model.settings import LocationText, Settings, TemplateText, project_of
from engine.sdk.batch import Batch, Routing
from engine.sdk.campaign import CampaignObject, ObjectSettings
from engine.sdk.context import RunContext

if TYPE_CHECKING:
    from sqlalchemy import Connection


class ExportColumn(Settings):
    header: str
    value: TemplateText


class ExportSettings(ObjectSettings):
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


class ExportObject(CampaignObject):
    type = "export"
    Settings = ExportSettings

    def run(self, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        from engine.store import files as records
        from engine.store.journeys import add_events

        settings = self.settings
        assert isinstance(settings, ExportSettings)
        columns = columns_of(settings.columns, ctx.project.customer_fields)
        files = ctx.effects.files
        place = files.place(settings.to, ctx.project, ctx.scope())
        db = ctx.store.db

        def reserved(again: bool = False) -> str:
            with db.write() as conn:
                return reserve(
                    conn,
                    place,
                    batch.key,
                    flow=self.flow.name,
                    object_id=self.id,
                    now=ctx.now,
                    again=again,
                )

        location = reserved()
        target = files.place(location, ctx.project, render=False)
        rows = len(batch)
        while not target.exists():  # else: written by an earlier run of this batch
            try:
                write_csv(
                    target,
                    (ctx.scope(journey) for journey in batch),
                    columns,
                    delimiter=settings.delimiter,
                    header=settings.header,
                )
            except NameTaken:  # someone else's file took the name meanwhile
                location = reserved(again=True)
                target = files.place(location, ctx.project, render=False)
        at, flow, key = ctx.now, self.flow.name, batch.key
        events = [
            {
                "kind": "exported",
                "at": at,
                "customer_id": journey.customer_id,
                "flow": flow,
                "object": self.id,
                "journey_id": journey.id,
                "data": {"path": location},
            }
            for journey in batch
        ]

        def done(conn: Connection) -> None:
            found = records.find_batch(conn, "export", key)
            if found is not None:
                records.close(conn, found.id, at, detail={"rows": rows})
            add_events(conn, events)

        ctx.write(done)
        if ctx.effects.replay:
            ctx.effects.record(
                "exports",
                {
                    "object": self.id,
                    "path": location,
                    "rows": rows,
                    "customers": [
                        j.customer.get("external_id") or j.customer.get("email") for j in batch
                    ],
                    "at": at.astimezone(UTC).isoformat(),
                },
            )
        routing.leave_all(batch, "out", f"exported to {location}")
