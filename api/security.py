"""Who is calling: API tokens (``Authorization: Bearer TOKEN``, or the password of Basic auth)
and HMAC-SHA256 signatures over the raw body, as shops sign their webhooks.

Every comparison of secrets is constant-time; no secret, token or signature is ever put in a
message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from engine.errors import AccessError, ProjectError
from engine.webhooks.auth import WebhookAuth
from engine.webhooks.schemes import verify_hubspot_v3, verify_standard

STANDARD_ID = "webhook-id"
STANDARD_TIMESTAMP = "webhook-timestamp"


def token_from(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header (Bearer, or Basic with the token as the
    password; the user name is not checked), or None when there is none."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AccessError(
                "the Basic credentials are not base64 of 'user:token'; encode them so"
            ) from None
        _, colon, password = decoded.partition(":")
        if not colon or not password:
            raise AccessError("Basic auth needs the token as the password: 'user:TOKEN'")
        return password
    raise AccessError(
        f"unsupported Authorization scheme '{scheme}'; send 'Bearer TOKEN' or Basic auth "
        "with the token as the password"
    )


def signing_key(auth: WebhookAuth, secret: str) -> bytes:
    """The HMAC key of a resolved secret (``whsec_BASE64`` for Standard Webhooks)."""
    if auth.style != "standard-webhooks":
        return secret.encode("utf-8")
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ProjectError(
            "the secret of a standard-webhooks webhook must be 'whsec_' followed by base64"
        ) from None


def _header(headers: Mapping[str, str], name: str, what: str) -> str:
    value = headers.get(name.lower())
    if not value:
        raise AccessError(f"missing {what}: this webhook expects it in header {name}")
    return value


def _check_time(value: str, header: str, tolerance: int, now: datetime) -> None:
    try:
        stamp = int(value.strip())
    except ValueError:
        raise AccessError(
            f"header {header} must be a Unix timestamp in seconds, such as 1767225600"
        ) from None
    away = abs(now.timestamp() - stamp)
    if away > tolerance:
        raise AccessError(
            f"the timestamp in {header} is {int(away)} s away from now (tolerance {tolerance} "
            "s): a stale or replayed call, or the sender's clock is wrong"
        )


def _mismatch(detail: str) -> AccessError:
    return AccessError(f"the signature does not match the body: {detail}")


def verify_signature(
    auth: WebhookAuth,
    key: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    *,
    method: str = "POST",
    url: str = "",
) -> None:
    """Check an HMAC-SHA256 signature over the raw body (for ``hubspot-v3`` also over the
    ``method`` and ``url`` called); ``AccessError`` says what is wrong. ``headers`` has
    lowercase names (as ASGI gives them)."""
    if auth.style == "standard-webhooks":
        verify_standard(key, headers, body, now, auth.tolerance)
        return
    if auth.style == "hubspot-v3":
        verify_hubspot_v3(key, headers, body, now, method=method, url=url, tolerance=auth.tolerance)
        return
    name = auth.signature_header
    given = _header(headers, name, "signature")
    message = body
    if auth.timestamp_header:
        stamp = _header(headers, auth.timestamp_header, "timestamp")
        _check_time(stamp, auth.timestamp_header, auth.tolerance, now)
        message = f"{stamp.strip()}.".encode() + body
    digest = hmac.new(key, message, hashlib.sha256).digest()
    signature = given.strip()
    if auth.prefix:
        signature = signature.removeprefix(auth.prefix)
    if auth.encoding == "hex":
        expected, signature = digest.hex(), signature.lower()
    else:
        expected = base64.b64encode(digest).decode("ascii")
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        signed = "'TIMESTAMP.BODY'" if auth.timestamp_header else "the raw body"
        raise _mismatch(
            f"{name} must be {auth.encoding} of HMAC-SHA256 over {signed} with the secret"
        )
