"""``export``: writes one CSV per batch to a location; an existing name gets -2, -3, ...
before the extension, so nothing is overwritten. (Its run comes with the files issue.)"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.campaign import CampaignObject, ObjectSettings
from engine.settings import LocationText, Settings, TemplateText


class ExportColumn(Settings):
    header: str
    value: TemplateText


class ExportSettings(ObjectSettings):
    type: Literal["export"]
    to: LocationText
    columns: list[str | ExportColumn] = Field(min_length=1)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True


class ExportObject(CampaignObject):
    type = "export"
    Settings = ExportSettings
