"""How a webhook caller proves who it is (``auth`` of a webhook object), and the endpoint a
webhook-like start object serves: what ``sluis serve`` reads to route and check calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from engine.model.settings import Settings
from engine.webhooks.payload import PayloadMap

_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


class WebhookAuth(Settings):
    """How a caller proves who it is. For ``hmac-sha256``: ``secret`` (as ``${VAR}``), the
    signature ``header``, its ``encoding``, an optional ``prefix`` before it (``sha256=``),
    and an optional ``timestamp_header`` (then ``TIMESTAMP.BODY`` is signed and a timestamp
    more than ``tolerance`` seconds away is refused). ``style: standard-webhooks`` reads
    ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,BASE64``) over
    ``ID.TIMESTAMP.BODY`` with a ``whsec_`` secret.

    ``scheme`` names a vendor's whole scheme instead (``engine.webhooks.schemes``): ``shopify``,
    ``hubspot-v3``, ``standard-webhooks`` or the generic ``hmac``; it sets the type, style,
    headers and encoding, and names the header of the delivery id that ``dedupe: header``
    reads."""

    type: Literal["token", "basic", "hmac-sha256"] = "token"
    scheme: Literal["shopify", "hubspot-v3", "standard-webhooks", "hmac"] | None = None
    style: Literal["plain", "standard-webhooks", "hubspot-v3"] = "plain"
    header: str | None = None
    secret: str | None = None
    encoding: Literal["base64", "hex"] = "base64"
    prefix: str | None = None
    timestamp_header: str | None = None
    tolerance: int = Field(default=300, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _scheme(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("scheme") is not None:
            from engine.webhooks.schemes import scheme_settings

            return scheme_settings(value)
        return value

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

    @property
    def delivery_header(self) -> str | None:
        """The header whose value identifies a delivery (redeliveries repeat it), if any."""
        from engine.webhooks.schemes import SCHEMES

        return SCHEMES[self.scheme].delivery_header if self.scheme else None


@dataclass(frozen=True)
class WebhookEndpoint:
    """A webhook served at ``/webhooks/NAME``: how its payload maps to customers and records,
    and how callers authenticate."""

    name: str
    payload: PayloadMap
    auth: WebhookAuth
