"""``import``: reads a CSV from a location into customers or a datamodel collection, on a
schedule, as a start object, or mid-flow.

As a start object (once when the flow starts, or on ``schedule``) each imported row whose
status is in ``continue`` (default new and changed) enters the flow with ``data.import_status``
(new, changed or unchanged), ``data.file`` and ``data.row`` (the imported values). For a
collection the record's customer enters; records linked to no customer enter nothing.

Mid-flow, the journeys that arrive start the import and end here (their step says so); the
imported customers enter the flow at this object exactly as above and go on from here by
``out``, under the flow's ``reentry`` rule (with ``after-exit`` a customer whose journey ends
here may enter again). Each batch that arrives imports the file once.

The import, the entering and the routing commit in one transaction: a file that cannot be read
or has more than ``max_rejects`` bad rows writes nothing, and the error names the file and why
(a failed start shows as a ``failed`` event of the object; arriving journeys fail with it).
Rejected rows go to ``NAME.rejects.csv`` beside the file. ``after`` (move or delete) happens once
the import committed; a restart between commit and ``after`` does the ``after`` step without
importing again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.errors import InputError
from engine.files import Place
from engine.files.imports import (
    Imported,
    ImportSpec,
    TooManyRejects,
    check_spec,
    import_csv,
    rejects_place,
    write_rejects,
)
from engine.model.settings import Cron, LocationText, Settings, project_of
from engine.sdk.batch import Batch, Entry, Routing
from engine.sdk.campaign import CampaignObject, CronTrigger, ObjectSettings, Once, Trigger
from engine.sdk.context import Enter, RunContext

if TYPE_CHECKING:
    from sqlalchemy import Connection

STATUSES = ("new", "changed", "unchanged")


class CsvImportSettings(ObjectSettings):
    """What the objects that import a CSV (import, csv-trigger) share: how its rows are read,
    matched and checked against the project."""

    key: str = "external_id"
    columns: dict[str, str] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"] = "utf-8"
    max_rejects: int = Field(default=0, ge=0)

    @property
    def collection(self) -> str:
        """Where the rows go: customers, or a datamodel collection."""
        return "customers"

    @model_validator(mode="after")
    def _fits_project(self, info: ValidationInfo) -> Self:
        project = project_of(info)
        if project is not None:
            try:
                check_spec(self.spec(), project)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return self

    def spec(self) -> ImportSpec:
        """The import this object does (``key`` unset: the collection's key)."""
        return ImportSpec(
            into=self.collection,
            key=self.key if "key" in self.model_fields_set else None,
            columns=self.columns,
            delimiter=self.delimiter,
            encoding=self.encoding,
            max_rejects=self.max_rejects,
        )


class AfterImport(Settings):
    move: LocationText | None = None


class ImportSettings(CsvImportSettings):
    type: Literal["import"]
    from_: LocationText = Field(alias="from")
    into: str = "customers"
    schedule: Cron | None = None
    after: Literal["delete"] | AfterImport | None = None
    continue_: list[Literal["new", "changed", "unchanged"]] = Field(
        default=["new", "changed"], alias="continue"
    )

    @property
    def collection(self) -> str:
        return self.into

    @field_validator("continue_", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def entries_of(rows: Sequence[Imported], wanted: Iterable[str], source: str) -> list[Entry]:
    """The entries of imported rows whose status is wanted (rows without customer: none).
    Each row's values become its entry's ``data.row`` as they are (a dict of its own)."""
    reasons = {status: f"imported: {status}" for status in wanted}
    return [
        Entry(
            row.customer_id,
            {"import_status": row.status, "file": source, "row": row.values},
            reasons[row.status],
        )
        for row in rows
        if row.customer_id is not None and row.status in reasons
    ]


class Import(CampaignObject):
    type = "import"
    Settings = ImportSettings
    can_start = True
    entry_reason = "imported"

    @property
    def options(self) -> ImportSettings:
        settings = self.settings
        assert isinstance(settings, ImportSettings)
        return settings

    def trigger(self) -> Trigger:
        settings = self.options
        return CronTrigger(settings.schedule) if settings.schedule else Once()

    def entries(self, ctx: RunContext) -> Iterable[Entry]:
        self._import(ctx)
        return ()

    def run(self, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        place = self._import(ctx)
        reason = (
            f"started the import of {place}; the imported customers go on"
            if place is not None
            else "the file was imported before; moved it away now"
        )
        for journey in batch:
            routing.leave(journey, None, reason)

    def _import(self, ctx: RunContext) -> Place | None:
        """Queue the import in the run's transaction; None when only a pending ``after`` step
        of an earlier import was left to do."""
        from engine.store import files as records

        settings = self.options
        place = ctx.effects.files.place(settings.from_, ctx.project, ctx.scope())
        key = f"{self.flow.name}:{self.id}"
        with ctx.store.db.read() as conn:
            pending = records.find(conn, "import", key)
        if pending is not None:
            info = place.info() if pending.location == str(place) else None
            if info is not None and (info.size, info.mtime) == (pending.size, pending.mtime):
                # committed before a restart, but not yet moved or deleted
                ctx.on_commit(lambda: self._after(ctx, place, pending.id))
                return None
            ctx.write(lambda conn: records.remove(conn, pending.id))
        spec = settings.spec()
        now, project, wanted = ctx.now, ctx.project, settings.continue_

        def change(conn: Connection, enter: Enter) -> None:
            info = place.info()
            if info is None:
                raise InputError(f"{place}: no such file to import; check from: and the folder")
            try:
                report = import_csv(
                    conn,
                    place,
                    spec,
                    project,
                    now,
                    on_chunk=lambda rows: enter(entries_of(rows, wanted, str(place))),
                )
            except TooManyRejects as exc:
                write_rejects(exc.report, rejects_place(place), encoding=spec.encoding)
                raise
            if report.rejects:
                write_rejects(report, rejects_place(place), encoding=spec.encoding)
            if settings.after is not None:
                made = records.add(
                    conn,
                    "import",
                    key,
                    flow=self.flow.name,
                    object_id=self.id,
                    location=str(place),
                    state="imported",
                    size=info.size,
                    mtime=info.mtime,
                    now=now,
                    detail={"summary": report.summary()},
                )
                ctx.on_commit(lambda: self._after(ctx, place, made))

        ctx.write_entering(change)
        return place

    def _after(self, ctx: RunContext, place: Place, record_id: int) -> None:
        """Move or delete the imported file, then forget the pending record."""
        from engine.store import files as records

        after = self.options.after
        if after == "delete":
            place.delete()
        elif after is not None and after.move is not None:
            target = ctx.effects.files.place(after.move, ctx.project, ctx.scope())
            info = target.info()
            if str(after.move).endswith("/") or (info is not None and info.is_dir):
                target = target.child(place.name)
            place.move_to(target)
        with ctx.store.db.write() as conn:
            records.remove(conn, record_id)
