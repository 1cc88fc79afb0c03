"""``webhook``: a start object served at ``/webhooks/ENDPOINT`` by ``sluis serve``. A call
stores the customer (``map``, matched on ``key``) and records (``records``) from the payload
and starts the flow for that customer with the payload as entry data; ``dedupe`` names the
payload's event id so a redelivered call has no second effect.

``auth`` is ``token`` or ``basic`` (an API token as ``Authorization: Bearer TOKEN`` or as the
password of Basic auth), or ``hmac-sha256``: a signature over the raw body with a shared
secret, as shops send (``style: plain``, e.g. Shopify's ``X-Shopify-Hmac-Sha256``) or as the
Standard Webhooks specification says (``style: standard-webhooks``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.model.fields import KEYS
from engine.model.settings import CustomerField, Settings, project_of
from engine.model.validation import did_you_mean
from engine.sdk.campaign import CampaignObject, ObjectSettings
from engine.webhooks.payload import PayloadMap, RecordsMap

_ENDPOINT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


class RecordsSpec(Settings):
    """Records in the payload: ``path`` to a list (one record each) or an object (one record),
    and ``map`` from paths inside each to fields of ``collection`` (absent: same names)."""

    collection: str
    path: str
    map: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self, info: ValidationInfo) -> RecordsSpec:
        project = project_of(info)
        if project is None:
            return self
        collections = project.settings.datamodel
        found = collections.get(self.collection)
        if found is None:
            hint = did_you_mean(self.collection, list(collections))
            raise ValueError(
                f"records: no collection '{self.collection}' in the datamodel{hint}"
                + ("" if hint else "; add it under datamodel in sluis.yaml")
            )
        for name in self.map.values():
            if name not in found.fields:
                hint = did_you_mean(name, list(found.fields))
                raise ValueError(
                    f"records: '{name}' is not a field of collection '{self.collection}'{hint}"
                )
        if self.map and found.key not in self.map.values():
            raise ValueError(
                f"records: map no payload path to '{found.key}', the key of "
                f"'{self.collection}'; every record needs it"
            )
        return self


class WebhookAuth(Settings):
    """How a caller proves who it is. For ``hmac-sha256``: ``secret`` (as ``${VAR}``), the
    signature ``header``, its ``encoding``, an optional ``prefix`` before it (``sha256=``),
    and an optional ``timestamp_header`` (then ``TIMESTAMP.BODY`` is signed and a timestamp
    more than ``tolerance`` seconds away is refused). ``style: standard-webhooks`` reads
    ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,BASE64``) over
    ``ID.TIMESTAMP.BODY`` with a ``whsec_`` secret."""

    type: Literal["token", "basic", "hmac-sha256"] = "token"
    style: Literal["plain", "standard-webhooks"] = "plain"
    header: str | None = None
    secret: str | None = None
    encoding: Literal["base64", "hex"] = "base64"
    prefix: str | None = None
    timestamp_header: str | None = None
    tolerance: int = Field(default=300, ge=1)

    @model_validator(mode="after")
    def _hmac(self) -> WebhookAuth:
        if self.type != "hmac-sha256":
            return self
        if not self.secret:
            raise ValueError("auth: hmac-sha256 needs a secret, written as ${VAR}")
        if not _ENV_REF.search(self.secret):
            raise ValueError(
                "auth: write the secret as ${VAR} and export VAR; secrets do not belong in "
                "flow files"
            )
        return self

    @property
    def signature_header(self) -> str:
        if self.header:
            return self.header
        return "webhook-signature" if self.style == "standard-webhooks" else "X-Signature"


AuthSetting = WebhookAuth | Literal["token", "basic", "hmac-sha256"]


class WebhookSettings(ObjectSettings):
    type: Literal["webhook"]
    endpoint: str
    map: dict[str, CustomerField] = Field(default_factory=dict)
    records: list[RecordsSpec] | RecordsSpec | None = None
    key: str = "external_id"
    auth: AuthSetting = "token"
    dedupe: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not _ENDPOINT.match(value):
            raise ValueError(
                f"endpoint '{value}' may hold only lowercase letters, digits, '-' and '_'"
            )
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if value not in KEYS:
            raise ValueError(f"key must be one of {', '.join(KEYS)}, not '{value}'")
        return value

    @model_validator(mode="after")
    def _key_mapped(self) -> WebhookSettings:
        if self.map and self.key not in self.map.values():
            raise ValueError(
                f"map no payload path to '{self.key}', the key that finds the customer "
                "(or choose another key)"
            )
        return self

    @property
    def auth_spec(self) -> WebhookAuth:
        """``auth`` as a model, also when written as a word."""
        return self.auth if isinstance(self.auth, WebhookAuth) else WebhookAuth(type=self.auth)

    @property
    def payload_map(self) -> PayloadMap:
        """How a payload maps to the customer, records and event id."""
        records = self.records if isinstance(self.records, list) else [self.records]
        return PayloadMap(
            map=dict(self.map),
            key=self.key,
            records=tuple(
                RecordsMap(r.collection, r.path, dict(r.map)) for r in records if r is not None
            ),
            dedupe=self.dedupe,
        )


class Webhook(CampaignObject):
    type = "webhook"
    Settings = WebhookSettings
    can_start = True
    only_start = True
    entry_reason = "received"
