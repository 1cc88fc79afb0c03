"""``import``: reads a CSV from a location into customers or a datamodel collection, on a
schedule, as a start object, or mid-flow. From an HTTP source (``from: https://...``, or a
path on an ``oauth2``/``bearer`` ``connection``) it pulls JSON ``items`` page by page
(``paginate``), only those changed ``since`` the last successful pull, through the same import
(``columns`` maps item paths to fields; rejects and ``max_rejects`` as for files).

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

from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.sdk import (
    Batch,
    CampaignObject,
    Cron,
    CronTrigger,
    Entries,
    InputError,
    LocationText,
    ObjectSettings,
    Once,
    RetrySettings,
    Routing,
    RunContext,
    Settings,
    SluisError,
    Trigger,
    project_of,
)
from engine.sdk.files import ImportSpec, check_spec
from engine.sdk.http import PullSettings, check_nested, http_connection, http_pull

if TYPE_CHECKING:
    from engine.sdk.files import Pickup
    from engine.sdk.http import HttpPull

HTTP_ONLY = ("query", "headers", "items", "paginate", "since", "max_pages", "rejects", "records")


class CsvImportSettings(ObjectSettings, RetrySettings):
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
    from_: LocationText | None = Field(default=None, alias="from")
    http: PullSettings | None = None
    into: str = "customers"
    schedule: Cron | None = None
    after: Literal["delete"] | AfterImport | None = None
    continue_: list[Literal["new", "changed", "unchanged"]] = Field(
        default=["new", "changed"], alias="continue"
    )

    @property
    def collection(self) -> str:
        return self.into

    @model_validator(mode="before")
    @classmethod
    def _http_source(cls, value: Any) -> Any:
        """``from: https://...`` or a path on ``connection``: an HTTP source, whose settings
        (connection, query, headers, items, paginate, since, max_pages) are gathered."""
        if not isinstance(value, dict):
            return value
        source = value.get("from")
        http = isinstance(source, str) and source.startswith(("http://", "https://"))
        if not http and "connection" not in value:
            for name in HTTP_ONLY:
                if name in value:
                    raise ValueError(f"{name} works with an HTTP source (from: https://...)")
            return value
        value = dict(value)
        pulled = {name: value.pop(name) for name in HTTP_ONLY if name in value}
        pulled["url"] = value.pop("from", None)
        pulled["connection"] = value.pop("connection", None)
        for name in ("after", "delimiter", "encoding"):
            if name in value:
                raise ValueError(f"{name} works with files, not with an HTTP source")
        return {**value, "http": pulled}

    @model_validator(mode="after")
    def _a_source(self, info: ValidationInfo) -> ImportSettings:
        if self.from_ is None and self.http is None:
            raise ValueError("from: say where to import from (a file location or https://...)")
        if self.http is not None:
            if not self.columns:
                raise ValueError("an HTTP import needs columns: item path -> field")
            project = project_of(info)
            if project is not None:
                try:
                    if self.http.connection is not None:
                        http_connection(project, self.http.connection)
                    check_nested(self.http, self.spec(), project)
                except SluisError as exc:
                    raise ValueError(str(exc)) from None
        return self

    @field_validator("continue_", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Import(CampaignObject[ImportSettings]):
    type = "import"
    can_start = True
    entry_reason = "imported"

    def trigger(self) -> Trigger:
        settings = self.settings
        return CronTrigger(settings.schedule) if settings.schedule else Once()

    def entries(self, *, ctx: RunContext) -> Entries:
        if self.settings.http is not None:
            return self._pull(ctx).entries()
        pickup = self._pickup(ctx)
        return () if pickup.only_after_left() else pickup.entries()

    def run(self, *, batch: Batch, routing: Routing, ctx: RunContext) -> None:
        if self.settings.http is not None:
            pull = self._pull(ctx)
            ctx.enter(pull.entries)
            reason = f"started the pull of {pull.place}; the imported customers go on"
            for journey in batch:
                routing.leave(journey, None, reason)
            return
        pickup = self._pickup(ctx)
        if pickup.only_after_left():
            reason = "the file was imported before; moved it away now"
        else:
            ctx.enter(pickup.entries)
            reason = f"started the import of {pickup.place}; the imported customers go on"
        for journey in batch:
            routing.leave(journey, None, reason)

    def _pull(self, ctx: RunContext) -> HttpPull:
        settings = self.settings
        assert settings.http is not None
        return http_pull(
            ctx, settings.http, settings.spec(), wanted=settings.continue_, retry=settings
        )

    def _pickup(self, ctx: RunContext) -> Pickup:
        settings, after = self.settings, self.settings.after
        assert settings.from_ is not None
        return ctx.files.pickup(
            settings.from_,
            settings.spec(),
            wanted=settings.continue_,
            delete=after == "delete",
            move=after.move if isinstance(after, AfterImport) else None,
        )
