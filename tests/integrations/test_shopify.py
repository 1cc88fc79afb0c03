"""``sluis integrate shopify`` end to end: orders/create and customers/update webhooks
(signature, redelivery, line items keeping their order's key, marketing consent) and the
nightly customer pull through the Admin API's Link cursor, against the Shopify stand-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from vendors import Answer
from vendors.shopify import CUSTOMERS, Shopify, webhook

from engine.store.models import RECORDS

SECRET = "shopify-app-secret"


@pytest.fixture
def shopify():
    stand_in = Shopify(customers=620)
    yield stand_in
    stand_in.close()


@pytest.fixture
def shop(shop_for, shopify):
    made = shop_for(
        "shopify",
        urls={"https://${SHOPIFY_SHOP}.myshopify.com": shopify.base_url},
        env={"SHOPIFY_ACCESS_TOKEN": shopify.token, "SHOPIFY_WEBHOOK_SECRET": SECRET},
    )
    made.start("shopify-orders", "shopify-customers", "shopify-pull")
    return made


ORDER = {
    "id": 450789469,
    "name": "#1001",
    "email": "bob@example.com",
    "total_price": "598.94",
    "currency": "EUR",
    "financial_status": "paid",
    "created_at": "2026-01-10T11:00:00+01:00",
    "updated_at": "2026-01-10T11:00:00+01:00",
    "customer": {
        "id": 207119551,
        "first_name": "Bob",
        "last_name": "Norman",
        "email_marketing_consent": {"state": "unsubscribed"},
    },
    "line_items": [
        {
            "id": 466157049,
            "sku": "IPOD2008GREEN",
            "title": "IPod Nano",
            "quantity": 1,
            "price": "199.00",
        },
        {
            "id": 518995019,
            "sku": "IPOD2008RED",
            "title": "IPod Nano",
            "quantity": 2,
            "price": "199.97",
        },
    ],
}


def test_an_order_webhook_stores_order_line_items_and_consent(shop):
    body, headers = webhook(SECRET, "orders/create", ORDER, webhook_id="b54557e4-bdd9-4b37")
    answer = shop.post("/webhooks/shopify-orders", body, headers)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["records"]) == 3
    bob = shop.customer("external_id", "207119551")
    assert bob["email"] == "bob@example.com" and bob["unsubscribed"] is True
    assert shop.count(RECORDS) == 3
    with shop.store.db.read() as conn:
        lines = [r.data for r in conn.execute(RECORDS.select()) if r.collection == "line_items"]
    assert {line["order_id"] for line in lines} == {"450789469"}
    again = shop.post("/webhooks/shopify-orders", body, headers)  # Shopify retries
    assert again.json()["items"][0]["duplicate"] is True
    assert shop.count(RECORDS) == 3


def test_a_wrong_secret_is_refused_and_stores_nothing(shop):
    body, headers = webhook("not-the-secret", "orders/create", ORDER)
    answer = shop.post("/webhooks/shopify-orders", body, headers)
    assert answer.status_code == 401
    assert shop.count() == 0


def test_a_customer_update_withdraws_and_gives_consent(shop):
    payload = {
        "id": 99,
        "email": "c@example.com",
        "first_name": "Cy",
        "email_marketing_consent": {"state": "subscribed"},
    }
    body, headers = webhook(SECRET, "customers/update", payload)
    assert shop.post("/webhooks/shopify-customers", body, headers).status_code == 200
    assert shop.customer("external_id", "99")["unsubscribed"] is False
    payload["email_marketing_consent"] = {"state": "unsubscribed"}
    body, headers = webhook(SECRET, "customers/update", payload)
    assert shop.post("/webhooks/shopify-customers", body, headers).status_code == 200
    assert shop.customer("external_id", "99")["unsubscribed"] is True


def test_the_nightly_pull_follows_the_link_cursor_to_the_end(shop, shopify):
    shop.at(3, 0)
    calls = shopify.to(CUSTOMERS)
    assert len(calls) == 3  # 620 customers, 250 a page
    assert calls[0].arg("updated_at_min") == "1970-01-01T00:00:00Z"
    assert all(c.arg("page_info") for c in calls[1:])
    assert shop.count() == 620
    assert shop.customer("external_id", str(207119551 + 2))["unsubscribed"] is True
    assert shop.customer("external_id", str(207119551 + 1))["unsubscribed"] is False


def test_a_pull_that_fails_mid_way_resumes_the_next_night_without_duplicates(shop, shopify):
    original = shopify.answer

    def flaky(call):
        if call.arg("page_info") and flaky.left:
            flaky.left -= 1
            return Answer(503, {"errors": "Service Unavailable"})
        return original(call)

    flaky.left = 4  # the second page fails on every try
    shopify.answer = flaky
    shop.at(3, 0)
    for _ in range(3):  # the pull goes again after 10 s, 20 s and 40 s (backoff), then gives up
        shop.clock.advance(timedelta(minutes=1))
        shop.run()
    assert shop.count() == 0
    shop.at(3, 0)  # the next night
    assert shop.count() == 620
    firsts = [c for c in shopify.to(CUSTOMERS) if not c.arg("page_info")]
    assert [c.arg("updated_at_min") for c in firsts] == ["1970-01-01T00:00:00Z"] * 5
    shopify.count = 630
    shop.at(3, 0)
    last = [c for c in shopify.to(CUSTOMERS) if not c.arg("page_info")][-1]
    assert last.arg("updated_at_min") == "2026-01-01T10:20:00+00:00"
    assert shop.count() == 630
