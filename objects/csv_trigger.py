"""``csv-trigger``: watches a folder; a file dropped in ``upload/`` whose name matches starts
the flow for exactly the customers in it. (Its run comes with the files issue.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from engine.campaign import CampaignObject, Every, ObjectSettings, Trigger
from engine.settings import Duration, LocationText


class CsvTriggerSettings(ObjectSettings):
    type: Literal["csv-trigger"]
    watch: LocationText
    match: str | None = None
    key: str = "external_id"
    columns: dict[str, str] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"] = "utf-8"
    poll: Duration = timedelta(seconds=30)


class CsvTrigger(CampaignObject):
    type = "csv-trigger"
    Settings = CsvTriggerSettings
    can_start = True
    only_start = True
    entry_reason = "in the dropped file"

    def trigger(self) -> Trigger:
        settings = self.settings
        assert isinstance(settings, CsvTriggerSettings)
        return Every(settings.poll)
