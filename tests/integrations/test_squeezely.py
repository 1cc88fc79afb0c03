"""``sluis integrate squeezely`` end to end against the Squeezely stand-in: opt-ins and profile
fields in batches of 100 events, purchases from the shop's order webhook."""

from __future__ import annotations

import json

import pytest
from vendors.squeezely import TRACK, Squeezely


@pytest.fixture
def squeezely():
    stand_in = Squeezely()
    yield stand_in
    stand_in.close()


@pytest.fixture
def shop(shop_for, squeezely):
    made = shop_for(
        "squeezely",
        urls={"https://api.squeezely.tech": squeezely.base_url},
        env={"SQUEEZELY_ACCOUNT": squeezely.account, "SQUEEZELY_API_KEY": squeezely.api_key},
    )
    made.start("squeezely-profiles", "squeezely-purchases")
    return made


def test_profiles_go_100_events_a_call(shop, squeezely):
    from engine.store.customers import upsert_customers

    rows = [
        {
            "external_id": f"C{i}",
            "email": f"c{i}@example.com",
            "first_name": f"A{i}",
            "newsletter": i % 2 == 0,
        }
        for i in range(1, 131)
    ]
    with shop.store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=shop.project, now=shop.clock.now())
    shop.at(4, 0)
    assert sorted(len(c.json()["events"]) for c in squeezely.to(TRACK)) == [30, 100]
    by_email = {e["email"]: e for e in squeezely.events}
    assert by_email["c2@example.com"] == {
        "event": "EmailOptIn",
        "email": "c2@example.com",
        "userid": "C2",
        "firstname": "A2",
        "lastname": "",
        "newsletter": "yes",
    }


def test_a_wrong_key_fails_the_journeys(shop, squeezely, monkeypatch):
    from engine.store.customers import upsert_customers

    monkeypatch.setenv("SQUEEZELY_API_KEY", "wrong")
    with shop.store.db.write() as conn:
        upsert_customers(
            conn,
            [{"external_id": "C1", "email": "c1@example.com"}],
            key="external_id",
            project=shop.project,
            now=shop.clock.now(),
        )
    shop.at(4, 0)
    [(output, reason)] = shop.steps("squeezely-profiles", "track").values()
    assert (output, reason) == ("failed", "failed: HTTP 401")


def test_an_order_goes_as_a_purchase(shop, squeezely):
    from engine.store import tokens

    with shop.store.db.write() as conn:
        tokens.create_user(conn, "shop", service=True, now=shop.clock.now())
        _, token = tokens.create_token(conn, "shop", now=shop.clock.now())
    order = {
        "email": "p@example.com",
        "order_id": "1001",
        "currency": "EUR",
        "products": [{"id": "ABC123", "name": "Product 1", "price": 29.99, "quantity": 2}],
    }
    body = json.dumps(order).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert shop.post("/webhooks/squeezely-purchases", body, headers).status_code == 200
    assert shop.post("/webhooks/squeezely-purchases", body, headers).status_code == 200  # again
    [event] = squeezely.events
    assert event == {
        "event": "Purchase",
        "email": "p@example.com",
        "orderid": "1001",
        "currency": "EUR",
        "products": order["products"],
    }
