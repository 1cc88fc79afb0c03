"""``sluis integrate hubspot`` end to end: the nightly batch upsert (100 a call, ids saved,
invalid inputs routed to failed with HubSpot's reason) and contact webhooks with the v3
signature (old timestamps and wrong secrets refused, redelivered events de-duplicated)."""

from __future__ import annotations

import json
import time

import pytest
from vendors.hubspot import UPSERT, HubSpot, webhook_headers

SECRET = "hubspot-client-secret"
PEOPLE = "profile: {}\n"


@pytest.fixture
def hubspot():
    stand_in = HubSpot()
    yield stand_in
    stand_in.close()


@pytest.fixture
def shop(shop_for, hubspot):
    made = shop_for(
        "hubspot",
        urls={"https://api.hubapi.com": hubspot.base_url},
        env={"HUBSPOT_PRIVATE_APP_TOKEN": hubspot.token, "HUBSPOT_CLIENT_SECRET": SECRET},
    )
    made.start("hubspot-push", "hubspot-contacts")
    return made


def _customers(shop, count, bad=()):
    from engine.store.customers import upsert_customers

    rows = [
        {
            "external_id": f"C{i}",
            "email": f"c{i}@example.com" if i not in bad else f"c{i}",
            "first_name": f"Ann{i}",
        }
        for i in range(1, count + 1)
    ]
    with shop.store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=shop.project, now=shop.clock.now())


def test_the_push_upserts_100_a_call_and_saves_the_ids(shop, hubspot):
    _customers(shop, 250)
    shop.at(2, 30)
    calls = hubspot.to(UPSERT)
    assert sorted(len(c.json()["inputs"]) for c in calls) == [50, 100, 100]
    assert calls[0].json()["inputs"][0]["idProperty"] == "email"
    assert len(hubspot.contacts) == 250
    assert (
        shop.customer("external_id", "C1")["hubspot_id"] == hubspot.contacts["c1@example.com"]["id"]
    )


def test_invalid_inputs_fail_with_hubspots_reason(shop, hubspot):
    _customers(shop, 5, bad={3})
    shop.at(2, 30)
    steps = shop.steps("hubspot-push", "upsert")
    reasons = sorted(reason for _, reason in steps.values())
    assert sum(r.startswith("ok: HTTP 207") for r in reasons) == 4
    [failed] = [r for r in reasons if r.startswith("failed")]
    assert "is not a valid email" in failed


def _events(*ids):
    return json.dumps(
        [
            {
                "eventId": i,
                "subscriptionType": "contact.creation",
                "objectId": 1000 + i,
                "occurredAt": int(time.time() * 1000),
            }
            for i in ids
        ]
    ).encode()


def test_webhooks_with_a_v3_signature(shop):
    url = "http://sluis/webhooks/hubspot"
    body = _events(1, 2)
    answer = shop.post("/webhooks/hubspot", body, webhook_headers(SECRET, url, body))
    assert answer.status_code == 200, answer.text
    assert shop.count() == 2
    again = shop.post("/webhooks/hubspot", body, webhook_headers(SECRET, url, body))
    assert [i["duplicate"] for i in again.json()["items"]] == [True, True]
    old = int(time.time() * 1000) - 10 * 60 * 1000
    stale = shop.post("/webhooks/hubspot", body, webhook_headers(SECRET, url, body, old))
    assert stale.status_code == 401 and "away from now" in stale.text
    other = _events(3)
    wrong = shop.post("/webhooks/hubspot", other, webhook_headers("nope", url, other))
    assert wrong.status_code == 401
    assert shop.count() == 2


def test_the_push_replays_without_calling_hubspot(shop, hubspot, tmp_path):
    from engine.runtime.replay import Replay

    people = tmp_path / "people.csv"
    people.write_text("external_id,email\nC1,c1@example.com\nC2,c2@example.com\n")
    replay = Replay(shop.project, shop.flows["hubspot-push"], people, start=shop.clock.now())
    try:
        replay.run()
        document = replay.document()
    finally:
        replay.close()
    assert hubspot.calls == []
    calls = document["effects"]["http"]  # one a night while the replay runs
    assert calls and all(c["url"].endswith(UPSERT) for c in calls)
    assert calls[0]["customers"] == ["C1", "C2"]
