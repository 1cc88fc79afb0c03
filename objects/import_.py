"""``import``: reads a CSV from a location into customers or a datamodel collection, on a
schedule, as a start object, or mid-flow. (Its run comes with the files issue.)"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from engine.campaign import CampaignObject, CronTrigger, ObjectSettings, Once, Trigger
from engine.settings import Cron, LocationText, Settings

ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1")
STATUSES = ("new", "changed", "unchanged")


class AfterImport(Settings):
    move: LocationText | None = None


class ImportSettings(ObjectSettings):
    type: Literal["import"]
    from_: LocationText = Field(alias="from")
    into: str = "customers"
    key: str = "external_id"
    columns: dict[str, str] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"] = "utf-8"
    schedule: Cron | None = None
    after: Literal["delete"] | AfterImport | None = None
    continue_: list[Literal["new", "changed", "unchanged"]] = Field(
        default=["new", "changed"], alias="continue"
    )
    max_rejects: int = Field(default=0, ge=0)

    @field_validator("continue_", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Import(CampaignObject):
    type = "import"
    Settings = ImportSettings
    can_start = True
    entry_reason = "imported"

    def trigger(self) -> Trigger:
        settings = self.settings
        assert isinstance(settings, ImportSettings)
        return CronTrigger(settings.schedule) if settings.schedule else Once()
