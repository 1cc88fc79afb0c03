"""``http-request`` with a batch body (``{"inputs": {{ items }}}``), batch limits and answers
read per item: failures per customer routed to ``failed`` with their reason, ``save`` per item."""

from __future__ import annotations

import pytest
from http_target import SQLITE_ONLY, Reply, customers

from engine.errors import FlowError


def _upsert(target, **settings):
    return {
        "type": "http-request",
        "url": target.url("/crm/v3/objects/contacts/batch/upsert"),
        "fields": {
            "idProperty": "email",
            "id": "{{ customer.email }}",
            "properties": {"firstname": "{{ customer.first_name }}"},
        },
        "batch_body": '{"inputs": {{ items }}}',
        "concurrency": 1,
        **settings,
    }


PATH = "/crm/v3/objects/contacts/batch/upsert"


@SQLITE_ONLY
def test_the_batch_body_wraps_chunks_of_at_most_the_batch_limit(target, campaign):
    run = campaign(_upsert(target, batch=100), customers(250), batch_size=250)
    run.run()
    bodies = sorted((r.json() for r in target.to(PATH)), key=lambda b: b["inputs"][0]["id"])
    assert [len(b["inputs"]) for b in bodies] == [100, 100, 50]
    assert bodies[0]["inputs"][0] == {
        "idProperty": "email",
        "id": "c0001@example.com",
        "properties": {"firstname": "Ann1"},
    }
    assert set(run.steps("notify").values()) == {("ok", "ok: HTTP 200")}


@SQLITE_ONLY
def test_a_jinja_batch_body_reads_the_customers(target, campaign):
    notify = _upsert(
        target,
        batch=10,
        batch_body='{"n": {{ customers | length }}, "inputs": {{ items }}}',
    )
    campaign(notify, customers(3)).run()
    [got] = target.to(PATH)
    assert got.json()["n"] == 3 and len(got.json()["inputs"]) == 3


@SQLITE_ONLY
def test_items_matched_by_a_field_save_per_item_and_route_listed_errors(target, campaign):
    # HubSpot answers 207 Multi-Status: results for what worked, errors naming the others
    target.plan(
        PATH,
        Reply(
            207,
            json={
                "status": "COMPLETE",
                "results": [
                    {"id": "501", "properties": {"email": "c0002@example.com"}},
                    {"id": "500", "properties": {"email": "C0001@example.com"}},
                ],
                "errors": [
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": "Property values were not valid",
                        "context": {"ids": ["c0003@example.com"]},
                    }
                ],
            },
        ),
    )
    notify = _upsert(
        target,
        batch=100,
        items={
            "path": "results",
            "match": {"item": "properties.email", "customer": "email"},
            "errors": "errors",
            "error_match": "context.ids",
        },
        save={"crm_id": "{{ response.json.id }}"},
    )
    run = campaign(notify, customers(4))
    run.run()
    steps = run.steps("notify")
    assert steps["C0001"] == steps["C0002"] == ("ok", "ok: HTTP 207")
    assert steps["C0003"] == (
        "failed",
        "failed: HTTP 207, but the item failed: Property values were not valid",
    )
    assert steps["C0004"][0] == "failed"
    assert "no item for this customer" in steps["C0004"][1]
    assert run.customer("C0001")["crm_id"] == "500"
    assert run.customer("C0002")["crm_id"] == "501"
    assert run.customer("C0003")["crm_id"] is None


@SQLITE_ONLY
def test_items_in_order_with_a_success_flag(target, campaign):
    # Salesforce's sObject Collections: one result per record, in the order sent
    path = "/services/data/v60.0/composite/sobjects"
    target.plan(
        path,
        Reply(
            200,
            json=[
                {"id": "003A", "success": True, "errors": []},
                {
                    "success": False,
                    "errors": [
                        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "LastName missing"}
                    ],
                },
            ],
        ),
    )
    notify = {
        "type": "http-request",
        "method": "PATCH",
        "url": target.url(path),
        "fields": {"attributes": {"type": "Contact"}, "Email": "{{ customer.email }}"},
        "batch": 200,
        "batch_body": '{"allOrNone": false, "records": {{ items }}}',
        "items": {"path": ".", "ok": "success", "error": "errors.0.message"},
        "save": {"crm_id": "{{ response.json.id }}"},
    }
    run = campaign(notify, customers(2))
    run.run()
    [got] = target.to(path)
    assert got.json()["allOrNone"] is False and len(got.json()["records"]) == 2
    steps = run.steps("notify")
    assert steps["C0001"] == ("ok", "ok: HTTP 200")
    assert steps["C0002"] == ("failed", "failed: HTTP 200, but the item failed: LastName missing")
    assert run.customer("C0001")["crm_id"] == "003A"


def test_settings_say_what_is_missing(target, campaign):
    with pytest.raises(FlowError, match="save' reads the answer per item"):
        campaign(_upsert(target, batch=100, save={"crm_id": "{{ response.json.id }}"}), [])
    with pytest.raises(FlowError, match="unknown template variable 'customer'"):
        campaign(_upsert(target, batch=2, batch_body='{"x": "{{ customer.email }}"}'), [])
