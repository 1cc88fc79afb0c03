"""``webhook``: a start object served at ``/webhooks/ENDPOINT`` by ``sluis serve``. A call
stores the customer (``map``, matched on ``key``) and records (``records``) from the payload
and starts the flow for that customer with the payload as entry data; ``dedupe`` names the
payload's event id so a redelivered call has no second effect (``header`` reads the delivery
id of the auth scheme, ``header:NAME`` a header of that name).

``auth`` is ``token`` or ``basic`` (an API token as ``Authorization: Bearer TOKEN`` or as the
password of Basic auth), or ``hmac-sha256``: a signature over the raw body with a shared
secret, as shops send (``style: plain``, e.g. Shopify's ``X-Shopify-Hmac-Sha256``) or as the
Standard Webhooks specification says (``style: standard-webhooks``); or a vendor's named
``scheme`` (``shopify``, ``hubspot-v3``, ``standard-webhooks``, ``hmac``) with its ``secret``.
Records nested in another record of the payload keep its key (an order's ``line_items`` get
``order_id``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.sdk import (
    CUSTOMER_KEYS,
    CampaignObject,
    CustomerField,
    ObjectSettings,
    PayloadMap,
    RecordsMap,
    Settings,
    WebhookAuth,
    WebhookEndpoint,
    did_you_mean,
    project_of,
)

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
        if value not in CUSTOMER_KEYS:
            raise ValueError(f"key must be one of {', '.join(CUSTOMER_KEYS)}, not '{value}'")
        return value

    @model_validator(mode="after")
    def _key_mapped(self) -> WebhookSettings:
        if self.map and self.key not in self.map.values():
            raise ValueError(
                f"map no payload path to '{self.key}', the key that finds the customer "
                "(or choose another key)"
            )
        return self

    @model_validator(mode="after")
    def _dedupe_header(self) -> WebhookSettings:
        if self.dedupe is None or not self.dedupe.startswith("header"):
            return self
        if self.dedupe == "header" and self.auth_spec.delivery_header is None:
            raise ValueError(
                "dedupe: header reads the delivery id of the auth scheme, and this auth names "
                "none; use an auth scheme that has one (shopify, standard-webhooks), "
                "'header:NAME', or a payload path"
            )
        return self

    @property
    def delivery_header(self) -> str | None:
        """The header of the event id, when ``dedupe`` is ``header`` or ``header:NAME``."""
        dedupe = self.dedupe
        if dedupe == "header":
            return self.auth_spec.delivery_header
        if dedupe is not None and dedupe.startswith("header:"):
            return dedupe.removeprefix("header:").strip() or None
        return None

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
            dedupe=None if self.delivery_header else self.dedupe,
            dedupe_header=self.delivery_header,
        )


class Webhook(CampaignObject[WebhookSettings]):
    type = "webhook"
    can_start = True
    only_start = True
    entry_reason = "received"

    def endpoint(self) -> WebhookEndpoint:
        settings = self.settings
        return WebhookEndpoint(settings.endpoint, settings.payload_map, settings.auth_spec)
