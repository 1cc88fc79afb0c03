"""Credentials: tokens from Authorization headers and HMAC signatures in their styles."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from api.security import signing_key, token_from, verify_signature
from engine.errors import AccessError, ProjectError
from objects.webhook import WebhookAuth

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
BODY = b'{"id": 1}'


def test_token_from_bearer_and_basic() -> None:
    assert token_from(None) is None
    assert token_from("Bearer abc") == "abc"
    basic = base64.b64encode(b"anyone:sluis_secret").decode()
    assert token_from(f"Basic {basic}") == "sluis_secret"
    with pytest.raises(AccessError, match="token as the password"):
        token_from("Basic " + base64.b64encode(b"no-colon").decode())
    with pytest.raises(AccessError, match="not base64"):
        token_from("Basic !!!")
    with pytest.raises(AccessError, match="unsupported Authorization scheme 'Digest'"):
        token_from("Digest x")


def _hex(message: bytes, key: bytes = b"k") -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def test_hex_signature_with_prefix_and_timestamp() -> None:
    auth = WebhookAuth(
        type="hmac-sha256",
        secret="${X}",
        header="X-Hub-Signature-256",
        encoding="hex",
        prefix="sha256=",
        timestamp_header="X-Timestamp",
    )
    stamp = str(int(NOW.timestamp()))
    good = {
        "x-hub-signature-256": "sha256=" + _hex(f"{stamp}.".encode() + BODY).upper(),
        "x-timestamp": stamp,
    }
    verify_signature(auth, b"k", good, BODY, NOW)
    with pytest.raises(AccessError, match=r"hex of HMAC-SHA256 over 'TIMESTAMP\.BODY'"):
        verify_signature(auth, b"k", good, BODY + b" ", NOW)
    with pytest.raises(AccessError, match="missing timestamp"):
        verify_signature(auth, b"k", {"x-hub-signature-256": "x"}, BODY, NOW)
    stale = {**good, "x-timestamp": str(int(NOW.timestamp()) - 400)}
    with pytest.raises(AccessError, match="400 s away"):
        verify_signature(auth, b"k", stale, BODY, NOW)
    with pytest.raises(AccessError, match="Unix timestamp"):
        verify_signature(auth, b"k", {**good, "x-timestamp": "soon"}, BODY, NOW)


def test_standard_webhooks_accepts_any_of_several_signatures() -> None:
    auth = WebhookAuth(type="hmac-sha256", style="standard-webhooks", secret="${X}")
    key = signing_key(auth, "whsec_" + base64.b64encode(b"key").decode())
    stamp = str(int(NOW.timestamp()))
    digest = hmac.new(key, f"msg_1.{stamp}.".encode() + BODY, hashlib.sha256).digest()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,bm90LWl0 v1,{base64.b64encode(digest).decode()}",
    }
    verify_signature(auth, key, headers, BODY, NOW)
    with pytest.raises(AccessError, match="missing event id"):
        verify_signature(auth, key, {**headers, "webhook-id": ""}, BODY, NOW)
    with pytest.raises(ProjectError, match="whsec_"):
        signing_key(auth, "whsec_***")
