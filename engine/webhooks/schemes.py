"""Named webhook signature schemes: what a vendor signs, in which headers, and which header
identifies a delivery, so a flow says ``auth: {scheme: shopify, secret: ${SHOPIFY_SECRET}}``
instead of spelling the HMAC out.

- ``shopify``: ``X-Shopify-Hmac-Sha256`` is base64 of HMAC-SHA256 of the raw body with the
  app's secret; ``X-Shopify-Webhook-Id`` names the delivery (a redelivery repeats it).
  (https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook)
- ``hubspot-v3``: ``X-HubSpot-Signature-v3`` is base64 of HMAC-SHA256 over
  METHOD + URI + BODY + TIMESTAMP with the app's client secret; ``X-HubSpot-Request-Timestamp``
  is in milliseconds and a call more than 5 minutes old is refused.
  (https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests)
- ``standard-webhooks``: the Standard Webhooks specification (``webhook-id``,
  ``webhook-timestamp``, ``webhook-signature``), signed with the ``standardwebhooks`` package;
  ``webhook-id`` names the delivery.
- ``hmac``: the generic HMAC-SHA256 of the raw body (``header``, ``encoding``, ``prefix``,
  ``timestamp_header`` as written).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from engine.errors import AccessError

HUBSPOT_SIGNATURE = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP = "X-HubSpot-Request-Timestamp"


@dataclass(frozen=True)
class Scheme:
    """A vendor's scheme: the settings it implies and its delivery-id header."""

    settings: Mapping[str, Any]
    delivery_header: str | None = None


SCHEMES: dict[str, Scheme] = {
    "shopify": Scheme(
        {"style": "plain", "header": "X-Shopify-Hmac-Sha256", "encoding": "base64"},
        "X-Shopify-Webhook-Id",
    ),
    "hubspot-v3": Scheme(
        {"style": "hubspot-v3", "header": HUBSPOT_SIGNATURE, "timestamp_header": HUBSPOT_TIMESTAMP}
    ),
    "standard-webhooks": Scheme({"style": "standard-webhooks"}, "webhook-id"),
    "hmac": Scheme({"style": "plain"}),
}


def scheme_settings(value: dict[str, Any]) -> dict[str, Any]:
    """``auth`` as written with a ``scheme``, completed with what the scheme implies; a
    setting the scheme fixes may not be written differently."""
    name = value["scheme"]
    scheme = SCHEMES.get(name)
    if scheme is None:
        return value  # the model's Literal names the choices
    if value.get("type", "hmac-sha256") != "hmac-sha256":
        raise ValueError(f"auth: scheme '{name}' signs with HMAC-SHA256; remove type")
    for key, fixed in scheme.settings.items():
        if key in value and value[key] != fixed:
            raise ValueError(
                f"auth: scheme '{name}' uses {key} '{fixed}'; remove {key}: {value[key]}"
            )
    return {**value, **scheme.settings, "type": "hmac-sha256"}


def _header(headers: Mapping[str, str], name: str, what: str) -> str:
    value = headers.get(name.lower())
    if not value:
        raise AccessError(f"missing {what}: this webhook expects it in header {name}")
    return value


def verify_hubspot_v3(
    key: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    *,
    method: str,
    url: str,
    tolerance: int,
) -> None:
    """HubSpot's v3 signature over METHOD + URI + BODY + TIMESTAMP (the URI as called, with
    its percent-escapes decoded), refusing a timestamp older than ``tolerance`` seconds."""
    given = _header(headers, HUBSPOT_SIGNATURE, "signature")
    stamp = _header(headers, HUBSPOT_TIMESTAMP, "timestamp").strip()
    try:
        millis = int(stamp)
    except ValueError:
        raise AccessError(
            f"header {HUBSPOT_TIMESTAMP} must be a Unix time in milliseconds"
        ) from None
    age = now.astimezone(UTC).timestamp() - millis / 1000
    if age > tolerance or age < -tolerance:
        raise AccessError(
            f"the timestamp in {HUBSPOT_TIMESTAMP} is {int(abs(age))} s away from now "
            f"(tolerance {tolerance} s): a stale or replayed call, or the sender's clock is wrong"
        )
    message = method.upper().encode() + unquote(url).encode() + body + stamp.encode()
    expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())
    if not hmac.compare_digest(given.strip().encode(), expected):
        raise AccessError(
            f"the signature does not match the body: {HUBSPOT_SIGNATURE} must be base64 of "
            "HMAC-SHA256 over METHOD + URI + BODY + TIMESTAMP with the app's client secret "
            "(behind a proxy, the URI HubSpot called must reach sluis unchanged)"
        )


def verify_standard(
    secret_key: bytes, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: int
) -> None:
    """A Standard Webhooks signature, computed by the ``standardwebhooks`` package (any of the
    space-separated ``v1,`` signatures may match); the timestamp is checked on ``now``, the
    runtime's clock."""
    from standardwebhooks.webhooks import Webhook

    event_id = _header(headers, "webhook-id", "event id")
    stamp = _header(headers, "webhook-timestamp", "timestamp")
    try:
        at = datetime.fromtimestamp(int(stamp.strip()), UTC)
    except (ValueError, OverflowError):
        raise AccessError(
            "header webhook-timestamp must be a Unix timestamp in seconds, such as 1767225600"
        ) from None
    away = abs(now.timestamp() - at.timestamp())
    if away > tolerance:
        raise AccessError(
            f"the timestamp in webhook-timestamp is {int(away)} s away from now (tolerance "
            f"{tolerance} s): a stale or replayed call, or the sender's clock is wrong"
        )
    given = _header(headers, "webhook-signature", "signature")
    expected = Webhook(secret_key).sign(event_id, at, body).partition(",")[2]
    for part in given.split():
        version, _, signature = part.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            return
    raise AccessError(
        "the signature does not match the body: no v1 signature in webhook-signature is base64 "
        "of HMAC-SHA256 over 'ID.TIMESTAMP.BODY' with the secret"
    )
