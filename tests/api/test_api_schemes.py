"""Named webhook signature schemes (shopify, hubspot-v3, standard-webhooks), de-duplication on
the scheme's delivery-id header, and records nested in a payload keeping their parent's key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from api_helpers import Api, Setup
from standardwebhooks.webhooks import Webhook

from api.app import create_app
from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import SystemClock
from engine.runtime.runner import Runtime
from engine.store import Store

SHOP_SECRET = "shpss_scheme_secret"
HUBSPOT_SECRET = "hubspot-client-secret"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"a-standard-webhooks-key").decode()
SETTINGS = """\
timezone: UTC
profile: {first_name: str}
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal}
  line_items:
    key: line_id
    fields: {line_id: str, order_id: str, sku: str, quantity: int}
"""
FLOWS = {
    "shop": """\
        reentry: always
        objects:
          order:
            type: webhook
            endpoint: shop-orders
            auth: {scheme: shopify, secret: "${SHOP_SECRET}"}
            dedupe: header
            map: {customer.id: external_id, email: email}
            records:
              - collection: orders
                path: .
                map: {id: order_id, total_price: total}
              - collection: line_items
                path: line_items
                map: {id: line_id, sku: sku, quantity: quantity}
    """,
    "hub": """\
        reentry: always
        objects:
          contact:
            type: webhook
            endpoint: hubspot
            auth: {scheme: hubspot-v3, secret: "${HUBSPOT_SECRET}"}
            map: {objectId: external_id}
            dedupe: eventId
    """,
    "std": """\
        objects:
          event:
            type: webhook
            endpoint: standard
            key: email
            auth: {scheme: standard-webhooks, secret: "${STANDARD_SECRET}"}
            dedupe: header
            map: {data.email: email}
    """,
}


@pytest.fixture
def app(
    make_project: Callable[..., Project],
    store_for: Callable[[Project], Store],
    monkeypatch: pytest.MonkeyPatch,
) -> Setup:
    monkeypatch.setenv("SHOP_SECRET", SHOP_SECRET)
    monkeypatch.setenv("HUBSPOT_SECRET", HUBSPOT_SECRET)
    monkeypatch.setenv("STANDARD_SECRET", STANDARD_SECRET)
    project = make_project(SETTINGS, FLOWS)
    store = store_for(project)
    flows, problems = load_flows(project)
    assert not problems, problems
    runtime = Runtime(store, flows, SystemClock())
    for name in FLOWS:
        runtime.start(name)
    made = create_app(project, store)
    setup = Setup(project, store, made, "", Api(made))
    _, setup.token = setup.make_token("shop")
    setup.api = Api(made, setup.token)
    return setup


def _shopify_sign(body: bytes, secret: str = SHOP_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


ORDER: dict[str, Any] = {
    "id": 820982911946154508,
    "email": "jon@example.com",
    "total_price": "199.65",
    "customer": {"id": 115310627314723954},
    "line_items": [
        {"id": 866550311766439020, "sku": "IPOD-1", "quantity": 1},
        {"id": 141249953214522974, "sku": "IPOD-2", "quantity": 2},
    ],
}


def _shop(setup: Setup, body: bytes, signature: str, webhook_id: str = "b54557e4") -> Any:
    return setup.api.post(
        "/webhooks/shop-orders",
        content=body,
        headers={
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Topic": "orders/create",
            "Content-Type": "application/json",
        },
    )


def test_shopify_scheme_stores_line_items_with_their_order_key(app: Setup) -> None:
    body = json.dumps(ORDER).encode()
    first = _shop(app, body, _shopify_sign(body))
    assert first.status_code == 200, first.text
    assert len(first.json()["records"]) == 3
    line = app.api.get("/api/v1/datamodel/line_items/866550311766439020").json()
    assert line["data"]["order_id"] == "820982911946154508"
    again = _shop(app, body, _shopify_sign(body))  # Shopify redelivers with the same id
    assert again.json()["items"][0]["duplicate"] is True
    assert again.json()["journeys"] == first.json()["journeys"]
    other = _shop(app, body, _shopify_sign(body), webhook_id="c0ffee")
    assert other.json()["items"][0]["duplicate"] is False


def test_shopify_scheme_refuses_a_wrong_secret_and_a_missing_delivery_id(app: Setup) -> None:
    body = json.dumps(ORDER).encode()
    wrong = _shop(app, body, _shopify_sign(body, "another-secret"))
    assert wrong.status_code == 401 and "does not match" in wrong.json()["detail"]
    missing = app.api.post(
        "/webhooks/shop-orders",
        content=body,
        headers={"X-Shopify-Hmac-Sha256": _shopify_sign(body)},
    )
    assert missing.status_code == 422
    assert "X-Shopify-Webhook-Id" in missing.text


def _hubspot(setup: Setup, body: bytes, *, at_ms: int, secret: str = HUBSPOT_SECRET) -> Any:
    uri = "http://sluis/webhooks/hubspot"
    message = b"POST" + uri.encode() + body + str(at_ms).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    return setup.api.post(
        "/webhooks/hubspot",
        content=body,
        headers={
            "X-HubSpot-Signature-v3": signature.decode(),
            "X-HubSpot-Request-Timestamp": str(at_ms),
            "Content-Type": "application/json",
        },
    )


def test_hubspot_v3_signature_window_and_event_ids(app: Setup) -> None:
    events = [
        {"eventId": 100, "subscriptionType": "contact.creation", "objectId": 123},
        {"eventId": 101, "subscriptionType": "contact.creation", "objectId": 124},
    ]
    body = json.dumps(events).encode()
    now_ms = int(time.time() * 1000)
    answer = _hubspot(app, body, at_ms=now_ms)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["customers"]) == 2
    assert _hubspot(app, body, at_ms=now_ms).json()["items"][1]["duplicate"] is True
    old = _hubspot(app, body, at_ms=now_ms - 6 * 60 * 1000)
    assert old.status_code == 401 and "away from now" in old.json()["detail"]
    wrong = _hubspot(app, body, at_ms=now_ms, secret="not-the-secret")
    assert wrong.status_code == 401 and "METHOD + URI + BODY + TIMESTAMP" in wrong.text


def test_standard_webhooks_scheme_with_the_package_and_dedupe(app: Setup) -> None:
    body = b'{"type": "user.created", "data": {"email": "std@example.com"}}'
    signer = Webhook(STANDARD_SECRET)
    now = datetime.now(UTC)

    def post(msg_id: str, at: datetime, signer: Webhook = signer) -> Any:
        return app.api.post(
            "/webhooks/standard",
            content=body,
            headers={
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": signer.sign(msg_id, at, body),
                "Content-Type": "application/json",
            },
        )

    assert post("msg_1", now).status_code == 200
    assert post("msg_1", now).json()["items"][0]["duplicate"] is True
    stale = post("msg_2", datetime.fromtimestamp(now.timestamp() - 3600, UTC))
    assert stale.status_code == 401
    other = Webhook("whsec_" + base64.b64encode(b"someone-else").decode())
    assert post("msg_3", now, other).status_code == 401


def test_a_scheme_fixes_its_settings(make_project: Callable[..., Project]) -> None:
    from objects.webhook import WebhookSettings

    with pytest.raises(ValueError, match="scheme 'shopify' uses header"):
        WebhookSettings.model_validate(
            {
                "type": "webhook",
                "endpoint": "x",
                "auth": {"scheme": "shopify", "secret": "${S}", "header": "X-Other"},
            }
        )
    with pytest.raises(ValueError, match="names none"):
        WebhookSettings.model_validate(
            {
                "type": "webhook",
                "endpoint": "x",
                "auth": {"scheme": "hubspot-v3", "secret": "${S}"},
                "dedupe": "header",
            }
        )
