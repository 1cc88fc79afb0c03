"""``sluis integrate salesforce`` end to end: the OAuth 2.0 client-credentials token (fetched,
cached, fetched anew on a 401), contacts upserted by external id 200 a call with per-record
failures routed to failed, and the SOQL pull following nextRecordsUrl."""

from __future__ import annotations

import pytest
from vendors.salesforce import VERSION, Salesforce

UPSERT = f"/services/data/{VERSION}/composite/sobjects/Contact/Sluis_External_Id__c"


@pytest.fixture
def salesforce():
    stand_in = Salesforce(page_size=200)
    yield stand_in
    stand_in.close()


@pytest.fixture
def shop(shop_for, salesforce):
    made = shop_for(
        "salesforce",
        urls={},
        env={
            "SALESFORCE_DOMAIN": salesforce.base_url,
            "SALESFORCE_CLIENT_ID": salesforce.client_id,
            "SALESFORCE_CLIENT_SECRET": salesforce.client_secret,
        },
    )
    made.start("salesforce-push", "salesforce-pull")
    return made


def _customers(shop, count, without_last_name=()):
    from engine.store.customers import upsert_customers

    rows = [
        {
            "external_id": f"C{i}",
            "email": f"c{i}@example.com",
            "first_name": f"Ann{i}",
            "last_name": None if i in without_last_name else "Smit",
        }
        for i in range(1, count + 1)
    ]
    with shop.store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=shop.project, now=shop.clock.now())


def test_the_push_upserts_200_a_call_with_one_token(shop, salesforce):
    _customers(shop, 450)
    shop.at(2, 45)
    calls = salesforce.to(UPSERT)
    assert sorted(len(c.json()["records"]) for c in calls) == [50, 200, 200]
    assert salesforce.issued == 1
    assert len(salesforce.contacts) == 450
    assert shop.customer("external_id", "C7")["salesforce_id"] == salesforce.contacts["C7"]["Id"]


def test_a_revoked_session_gets_a_new_token_once(shop, salesforce):
    _customers(shop, 10)
    shop.at(2, 45)
    salesforce.revoke_tokens()
    shop.at(2, 45)  # the next night: the cached token is refused, a new one is fetched
    assert salesforce.issued == 2
    steps = shop.steps("salesforce-push", "upsert")
    assert {output for output, _ in steps.values()} == {"ok"}


def test_records_salesforce_refuses_fail_with_its_reason(shop, salesforce):
    _customers(shop, 3)
    salesforce_lastname = salesforce._upsert

    def refuse_second(call, sobject, field):
        body = call.json()
        body["records"][1]["LastName"] = ""
        call.body = __import__("json").dumps(body).encode()
        return salesforce_lastname(call, sobject, field)

    salesforce._upsert = refuse_second
    shop.at(2, 45)
    reasons = sorted(r for _, r in shop.steps("salesforce-push", "upsert").values())
    assert (
        reasons[0]
        == "failed: HTTP 200, but the item failed: Required fields are missing: [LastName]"
    )
    assert reasons[1:] == ["ok: HTTP 200", "ok: HTTP 200"]


def test_the_soql_pull_follows_next_records_url(shop, salesforce):
    salesforce.queried = [
        {
            "Id": f"003{i:012d}",
            "Email": f"s{i}@example.com",
            "FirstName": f"Sam{i}",
            "LastName": "Bakker",
            "LastModifiedDate": f"2026-02-01T10:{i // 60:02d}:{i % 60:02d}.000+0000",
        }
        for i in range(500)
    ]
    shop.at(1, 20)
    queries = [c for c in salesforce.calls if "/query" in c.path and "Lead" not in c.arg("q", "")]
    assert len(queries) == 3 and queries[1].path.startswith(f"/services/data/{VERSION}/query/")
    assert shop.count() == 500
    assert shop.customer("email", "s3@example.com")["salesforce_id"] == "003000000000003"
    salesforce.calls.clear()
    shop.at(2, 20)
    [again] = [c for c in salesforce.calls if "FROM Contact" in c.arg("q", "")]
    assert "LastModifiedDate > 2026-02-01T10:08:19Z" in again.arg("q")


def _lead_queries(salesforce):
    """The SOQL queries of leads, and the nextRecordsUrl calls (no contacts in these tests)."""
    first = [c for c in salesforce.calls if c.path.endswith("/query") and "FROM Lead" in c.arg("q")]
    return first, [c for c in salesforce.calls if "/query/" in c.path]


def test_open_leads_are_pulled_beside_contacts_changed_since_the_last_pull(shop, salesforce):
    salesforce.leads = [
        {
            "Id": f"00Q{i:012d}",
            "Email": f"l{i}@example.com",
            "FirstName": f"Lea{i}",
            "LastName": "Visser",
            "Company": f"Shop {i % 7}",
            "Status": "Open - Not Contacted",
            "IsConverted": i % 5 == 0,  # converted leads come back as contacts
            "LastModifiedDate": f"2026-02-02T09:{i // 60:02d}:{i % 60:02d}.000+0000",
        }
        for i in range(500)
    ]
    shop.at(1, 25)
    [query], more = _lead_queries(salesforce)
    assert "IsConverted = false" in query.arg("q")
    assert "LastModifiedDate > 1970-01-01T00:00:00Z" in query.arg("q")
    assert len(more) == 1  # 400 open leads, 200 a page: nextRecordsUrl once
    assert shop.count() == 400
    lead = shop.customer("email", "l1@example.com")
    assert (lead["salesforce_lead_id"], lead["company"]) == ("00Q000000000001", "Shop 1")
    assert lead["lead_status"] == "Open - Not Contacted" and lead["first_name"] == "Lea1"
    with pytest.raises(ValueError):
        shop.customer("email", "l5@example.com")  # converted: not pulled as a lead
    # an hour later only what changed since the newest one seen (i = 499, 09:08:19) comes
    salesforce.leads[1].update(
        Status="Working - Contacted", LastModifiedDate="2026-02-02T11:00:00.000+0000"
    )
    salesforce.calls.clear()
    shop.at(2, 25)
    [query], more = _lead_queries(salesforce)
    assert "LastModifiedDate > 2026-02-02T09:08:19Z" in query.arg("q") and more == []
    assert shop.customer("email", "l1@example.com")["lead_status"] == "Working - Contacted"
    assert shop.count() == 400
