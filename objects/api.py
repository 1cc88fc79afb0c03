"""``api``: an immediate JSON notification per customer (flow, object, customer, data).
(Its run comes with the HTTP issue.)"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.campaign import CampaignObject, ObjectSettings
from engine.settings import Duration, TemplateText


class ApiSettings(ObjectSettings):
    type: Literal["api"]
    url: TemplateText
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    timeout: Duration | None = None
    retries: int = Field(default=3, ge=0, le=20)


class ApiCall(CampaignObject):
    type = "api"
    Settings = ApiSettings
    outputs = ("ok", "failed")
