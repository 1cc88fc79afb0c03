"""``oauth2`` connections (client credentials, by authlib) used by ``http-request`` and ``api``
against the Salesforce stand-in: the token is fetched once and cached, renewed before it
expires, fetched anew once on a 401, and a refused client fails the journeys with the reason."""

from __future__ import annotations

import pytest
from http_target import customers
from vendors.salesforce import VERSION, Salesforce

from engine.errors import FlowError
from engine.http.oauth import forget_tokens

UPSERT = f"/services/data/{VERSION}/composite/sobjects/Contact/External_Id__c"


@pytest.fixture
def salesforce(monkeypatch):
    forget_tokens()
    stand_in = Salesforce()
    monkeypatch.setenv("SF_CLIENT_ID", stand_in.client_id)
    monkeypatch.setenv("SF_CLIENT_SECRET", stand_in.client_secret)
    yield stand_in
    stand_in.close()
    forget_tokens()


def _settings(sf: Salesforce, method: str = "client_secret_basic") -> str:
    return f"""\
timezone: UTC
profile: {{first_name: str, crm_id: str}}
http: {{allow_private: true}}
connections:
  salesforce:
    type: oauth2
    token_url: {sf.base_url}/services/oauth2/token
    client_id: ${{SF_CLIENT_ID}}
    client_secret: ${{SF_CLIENT_SECRET}}
    auth_method: {method}
    base_url: {sf.base_url}
"""


def _upsert(**more):
    return {
        "type": "http-request",
        "method": "PATCH",
        "connection": "salesforce",
        "url": UPSERT,
        "fields": {
            "attributes": {"type": "Contact"},
            "External_Id__c": "{{ customer.external_id }}",
            "LastName": "{{ customer.first_name }}",
            "Email": "{{ customer.email }}",
        },
        "batch": 200,
        "batch_body": '{"allOrNone": false, "records": {{ items }}}',
        "items": {"path": ".", "ok": "success", "error": "errors.0.message"},
        "save": {"crm_id": "{{ response.json.id }}"},
        "concurrency": 1,
        **more,
    }


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_the_token_is_fetched_once_and_carried(salesforce, campaign, method):
    run = campaign(_upsert(), customers(450), settings=_settings(salesforce, method))
    run.run()
    assert salesforce.issued == 1
    calls = salesforce.to(UPSERT)
    assert [len(c.json()["records"]) for c in calls] == [200, 200, 50]  # the batch limit
    assert {c.headers["authorization"] for c in calls} == {"Bearer 00Dxx!sf-token-1"}
    assert set(run.steps("notify").values()) == {("ok", "ok: HTTP 200")}
    assert run.customer("C0001")["crm_id"].startswith("003")
    assert len(salesforce.contacts) == 450


def test_a_401_fetches_a_new_token_once(salesforce, campaign):
    run = campaign(_upsert(), customers(3), settings=_settings(salesforce))
    from engine.http.oauth import ConnectionAuth, http_connection

    auth = ConnectionAuth("salesforce", http_connection(run.project, "salesforce"))
    auth.token(run.client)  # a token cached from an earlier batch...
    salesforce.revoke_tokens()  # ...that Salesforce no longer accepts
    run.run()
    assert salesforce.issued == 2
    answers = [c.headers["authorization"] for c in salesforce.to(UPSERT)]
    assert answers == ["Bearer 00Dxx!sf-token-1", "Bearer 00Dxx!sf-token-2"]
    assert set(run.steps("notify").values()) == {("ok", "ok: HTTP 200")}


def test_a_token_near_its_expiry_is_renewed_before_use(salesforce, campaign):
    salesforce.expires_in = 30  # within the minute before expiry: renewed at each use
    run = campaign(
        _upsert(batch=1, batch_body=None, items=None, save={}),
        customers(1),
        settings=_settings(salesforce),
    )
    from engine.http.oauth import ConnectionAuth, http_connection

    auth = ConnectionAuth("salesforce", http_connection(run.project, "salesforce"))
    first = auth.token(run.client)
    assert auth.token(run.client) != first
    salesforce.expires_in = 3600
    kept = auth.token(run.client)
    assert auth.token(run.client) == kept


def test_a_refused_client_fails_the_journeys_with_the_reason(salesforce, campaign, monkeypatch):
    monkeypatch.setenv("SF_CLIENT_SECRET", "wrong-secret")
    run = campaign(_upsert(), customers(2), settings=_settings(salesforce))
    run.run()
    output, reason = run.steps("notify")["C0001"]
    assert output == "failed"
    assert "token request" in reason and "HTTP 400" in reason
    assert "invalid client credentials" in reason and "wrong-secret" not in reason
    assert salesforce.to(UPSERT) == []


def test_per_record_failures_go_to_failed(salesforce, campaign):
    people = customers(3)
    people[1]["first_name"] = None  # no LastName: Salesforce refuses that record only
    run = campaign(_upsert(), people, settings=_settings(salesforce))
    run.run()
    steps = run.steps("notify")
    assert steps["C0002"] == (
        "failed",
        "failed: HTTP 200, but the item failed: Required fields are missing: [LastName]",
    )
    assert steps["C0001"][0] == steps["C0003"][0] == "ok"


def test_the_api_object_goes_through_the_connection(salesforce, campaign):
    api = {"type": "api", "connection": "salesforce", "url": f"/services/data/{VERSION}/query"}
    run = campaign(api, customers(1), settings=_settings(salesforce))
    run.run()
    [call] = salesforce.to(f"/services/data/{VERSION}/query")
    assert call.headers["authorization"].startswith("Bearer 00Dxx!")


def test_settings_name_a_missing_or_wrong_connection(salesforce, campaign):
    with pytest.raises(FlowError, match="no connection 'crm'"):
        campaign(_upsert(connection="crm"), [], settings=_settings(salesforce))
    with pytest.raises(FlowError, match="a path needs a connection"):
        campaign(_upsert(connection=None), [], settings=_settings(salesforce))
