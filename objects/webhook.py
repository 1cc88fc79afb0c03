"""``webhook``: a start object served at ``/webhooks/ENDPOINT``; a call stores the customer
and records from the payload and starts the flow for that customer. (Its receiver comes with
the HTTP API issue.)"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from engine.campaign import CampaignObject, ObjectSettings
from engine.settings import Settings

_ENDPOINT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class RecordsSpec(Settings):
    collection: str
    path: str
    map: dict[str, str] = Field(default_factory=dict)


class WebhookAuth(Settings):
    type: Literal["token", "basic", "hmac-sha256"] = "token"
    header: str | None = None
    secret: str | None = None
    encoding: Literal["base64", "hex"] = "base64"
    timestamp_header: str | None = None
    tolerance: int = 300


class WebhookSettings(ObjectSettings):
    type: Literal["webhook"]
    endpoint: str
    map: dict[str, str] = Field(default_factory=dict)
    records: list[RecordsSpec] | RecordsSpec | None = None
    key: str = "external_id"
    auth: WebhookAuth | Literal["token", "basic", "hmac-sha256"] = "token"
    dedupe: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not _ENDPOINT.match(value):
            raise ValueError(
                f"endpoint '{value}' may hold only lowercase letters, digits, '-' and '_'"
            )
        return value


class Webhook(CampaignObject):
    type = "webhook"
    Settings = WebhookSettings
    can_start = True
    only_start = True
    entry_reason = "received"
