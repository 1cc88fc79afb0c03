"""``mail``: sends a templated mail to each customer. (Its run comes with the mail issue.)"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from engine.campaign import CampaignObject, ObjectSettings
from engine.settings import TemplateText


class MailSettings(ObjectSettings):
    type: Literal["mail"]
    template: str
    subject: TemplateText
    from_: TemplateText | None = Field(default=None, alias="from")
    reply_to: TemplateText | None = None
    to: TemplateText | None = None
    link_params: bool | list[str] = False
    track: list[Literal["opens", "clicks"]] | bool = ["opens", "clicks"]
    throttle: int | None = Field(default=None, ge=1)

    @field_validator("track", mode="before")
    @classmethod
    def _track(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Mail(CampaignObject):
    type = "mail"
    Settings = MailSettings
    outputs = ("sent", "skipped")
