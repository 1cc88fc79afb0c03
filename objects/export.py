"""``export``: writes one CSV per batch to a location; an existing name gets -2, -3, ...
before the extension, so nothing is overwritten.

``to`` is rendered once per batch (``today``, ``now``, ``flow``, ``object``; no customer). The
name is reserved for the batch in the database before the file is written, so a batch that
runs again after a crash finds its file and does not write a second one; the reservation ends
when the batch's routing commits, and the name may be used again once the file is gone.
``where`` keeps the rows of the batch's customers for whom it holds (run in the database, as
``sluis export --where``); every journey leaves by ``out`` all the same. Each customer exported
gets an ``exported`` event; replay lists the file under ``effects.exports``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, Literal

from pydantic import Field, ValidationInfo, model_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    ColumnValueText,
    ExpressionText,
    InputError,
    LocationText,
    ObjectSettings,
    RetrySettings,
    Routing,
    RunContext,
    SegmentText,
    Settings,
    customer_label,
    did_you_mean,
    project_of,
)
from engine.sdk.files import Column, columns_of, record_columns


class ExportColumn(Settings):
    header: str
    value: ColumnValueText | None = Field(
        default=None,
        description="a template, or {{ EXPRESSION }} such as {{ count(records.orders) }}",
    )
    expression: ExpressionText | None = Field(
        default=None, description="an expression, such as count(records.orders)"
    )

    @model_validator(mode="after")
    def _one(self) -> ExportColumn:
        if (self.value is None) == (self.expression is None):
            raise ValueError(f"column '{self.header}' needs either value: or expression:")
        return self


class ExportSettings(ObjectSettings, RetrySettings):
    type: Literal["export"]
    to: LocationText
    from_: str | None = Field(
        default=None,
        alias="from",
        description="a datamodel collection: one row per record of the batch's customers",
    )
    columns: list[str | ExportColumn] = Field(min_length=1)
    where: SegmentText | None = Field(
        default=None,
        description="only the batch's customers for whom this holds, e.g. customer.country "
        '== "NL" (run in the database)',
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True

    @model_validator(mode="after")
    def _fields(self, info: ValidationInfo) -> ExportSettings:
        project = project_of(info)
        if project is not None:
            try:
                self.columns_in(project)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return self

    def columns_in(self, project: Any) -> list[Column]:
        if self.from_ is None:
            return columns_of(self.columns, project.customer_fields)
        names = [c for c in self.columns if isinstance(c, str)]
        if len(names) != len(self.columns):
            raise InputError("an export of records names fields as columns, not {header, value}")
        if self.from_ not in project.settings.datamodel:
            known = list(project.settings.datamodel)
            hint = did_you_mean(self.from_, known)
            raise InputError(f"from: no collection '{self.from_}' in the datamodel{hint}")
        return record_columns(names, project, self.from_)


class ExportObject(CampaignObject[ExportSettings]):
    type = "export"

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        settings = self.settings
        columns = settings.columns_in(ctx.project)
        exported = list(batch)
        if settings.where is not None:
            among = [journey.customer_id for journey in batch]
            chosen = {i for ids in ctx.customers.matching(settings.where, among=among) for i in ids}
            exported = [journey for journey in batch if journey.customer_id in chosen]
        scopes = None
        if settings.from_ is not None:
            scopes = [
                ctx.scope(journey, record=record)
                for journey in exported
                for record in ctx.customer_records.of(settings.from_, journey.customer_id)
            ]
        elif settings.where is not None:
            scopes = [ctx.scope(journey) for journey in exported]
        location = ctx.files.export(
            settings.to,
            batch,
            columns,
            delimiter=settings.delimiter,
            header=settings.header,
            rows=scopes,
        )
        at, rows = ctx.now, len(exported) if scopes is None else len(scopes)
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
            for journey in exported
        )
        ctx.effects.record(
            "exports",
            lambda: {
                "object": self.id,
                "path": location,
                "rows": rows,
                "customers": [customer_label(j.customer) for j in exported],
                "at": at.astimezone(UTC).isoformat(),
            },
        )
        routing.leave_all(batch, "out", f"exported to {location}")
