"""``http-request``: calls an HTTP endpoint per customer or with batches of up to 1,000
customers. (Its run comes with the HTTP issue.)"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.campaign import CampaignObject, ObjectSettings
from engine.settings import Duration, TemplateText


class HttpRequestSettings(ObjectSettings):
    type: Literal["http-request"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: TemplateText
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    fields: dict[str, TemplateText | Any] | None = None
    body: TemplateText | None = None
    format: Literal["json", "form"] = "json"
    batch: int = Field(default=1, ge=1, le=1000)
    timeout: Duration | None = None
    retries: int = Field(default=3, ge=0, le=20)
    success: list[int] | None = None
    save: dict[str, TemplateText] = Field(default_factory=dict)
    concurrency: int = Field(default=10, ge=1, le=500)
    rate_limit: float | None = Field(default=None, gt=0)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> HttpRequestSettings:
        if self.fields is not None and self.body is not None:
            raise ValueError("give 'fields' or a raw 'body', not both")
        if self.save and self.batch > 1:
            raise ValueError("'save' works on per-customer calls only; remove it or use batch: 1")
        return self


class HttpRequest(CampaignObject):
    type = "http-request"
    Settings = HttpRequestSettings
    outputs = ("ok", "failed")
