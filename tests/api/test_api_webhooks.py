"""The webhook receiver through the real ASGI app: authentication (tokens and HMAC
signatures), payload mapping and its errors, redeliveries, arrays, stopped flows, body cap."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import (
    Setup,
    order_payload,
    shopify_signature,
    standard_headers,
)
from sqlalchemy import Table, func, select, update

from engine.store.models import CUSTOMERS, JOURNEYS, RECORDS, TOKENS, USERS


def _count(setup: Setup, table: Table) -> int:
    with setup.store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _nothing_stored(setup: Setup) -> None:
    assert _count(setup, CUSTOMERS) == 0
    assert _count(setup, RECORDS) == 0
    assert _count(setup, JOURNEYS) == 0


# -- the happy path and redeliveries --------------------------------------------------------


def test_webhook_stores_customer_records_and_starts_the_flow(setup: Setup) -> None:
    answer = setup.api.post("/webhooks/orders", json=order_payload())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["flow"] == "orders"
    assert len(body["customers"]) == 1 and len(body["records"]) == 3
    assert len(body["journeys"]) == 1
    assert body["items"][0]["duplicate"] is False
    [customer_id] = body["customers"]
    shown = setup.api.get(f"/api/v1/customers/{customer_id}").json()
    assert shown["external_id"] == "C1" and shown["first_name"] == "Ann"
    with setup.store.db.read() as conn:
        journey = conn.execute(select(JOURNEYS)).one()
        records = conn.execute(select(RECORDS).order_by(RECORDS.c.id)).all()
    assert journey.customer_id == customer_id
    assert journey.data["order"]["id"] == "O1"  # the payload is the journey's data
    assert [(r.collection, r.key, r.customer_id) for r in records] == [
        ("orders", "O1", customer_id),
        ("lines", "O1-1", customer_id),
        ("lines", "O1-2", customer_id),
    ]
    assert records[0].data == {"order_id": "O1", "total": "12.50", "status": "paid"}


def test_redelivered_event_has_no_second_effect(setup: Setup) -> None:
    first = setup.api.post("/webhooks/orders", json=order_payload("evt-9"))
    changed = order_payload("evt-9")
    changed["customer"]["first_name"] = "Changed"
    again = setup.api.post("/webhooks/orders", json=changed)
    assert again.status_code == 200
    assert again.json()["items"][0]["duplicate"] is True
    for name in ("customers", "records", "journeys"):
        assert again.json()[name] == first.json()[name]
    assert _count(setup, JOURNEYS) == 1
    [customer_id] = first.json()["customers"]
    assert setup.api.get(f"/api/v1/customers/{customer_id}").json()["first_name"] == "Ann"


def test_a_second_order_updates_the_customer_and_adds_records(setup: Setup) -> None:
    setup.api.post("/webhooks/orders", json=order_payload("e1", "C1", "O1"))
    second = order_payload("e2", "C1", "O2")
    second["customer"]["first_name"] = "Anna"
    answer = setup.api.post("/webhooks/orders", json=second)
    assert answer.status_code == 200
    assert _count(setup, CUSTOMERS) == 1
    assert _count(setup, RECORDS) == 6
    assert _count(setup, JOURNEYS) == 2  # reentry: always
    [customer_id] = answer.json()["customers"]
    assert setup.api.get(f"/api/v1/customers/{customer_id}").json()["first_name"] == "Anna"


def test_array_of_contacts_is_one_upsert_each(setup: Setup) -> None:
    contacts = [
        {"email": "a@example.com", "name": "A", "newsletter": "yes"},
        {"email": "b@example.com", "name": "B"},
        {"email": "A@example.com", "name": "A2"},  # the first one again (e-mail in any case)
    ]
    client = setup.client(None)
    basic = base64.b64encode(f"shop:{setup.token}".encode()).decode()
    answer = client.post(
        "/webhooks/contacts", json=contacts, headers={"Authorization": f"Basic {basic}"}
    )
    assert answer.status_code == 200, answer.text
    ids = answer.json()["customers"]
    assert ids[0] == ids[2] != ids[1]
    assert _count(setup, CUSTOMERS) == 2
    # reentry after-exit: the first journey is still on its way, so the repeat does not enter
    assert len(answer.json()["journeys"]) == 2
    assert answer.json()["items"][2]["journeys"] == []
    first = setup.api.get(f"/api/v1/customers/{ids[0]}").json()
    assert first["first_name"] == "A2" and first["newsletter"] is True


def test_array_of_orders_is_one_record_each(setup: Setup) -> None:
    answer = setup.api.post(
        "/webhooks/orders",
        json=[order_payload("e1", "C1", "O1"), order_payload("e2", "C2", "O2")],
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["customers"]) == 2
    assert len(answer.json()["records"]) == 6
    listed = setup.api.get("/api/v1/datamodel/orders").json()["items"]
    assert [r["key"] for r in listed] == ["O1", "O2"]


# -- payload errors ----------------------------------------------------------------------------


def test_payload_errors_name_path_and_problem_and_store_nothing(setup: Setup) -> None:
    payload = order_payload()
    del payload["customer"]["id"]
    payload["customer"]["email"] = "not-an-address"
    payload["order"]["lines"][1]["qty"] = "two"
    del payload["event_id"]
    answer = setup.api.post("/webhooks/orders", json=payload)
    assert answer.status_code == 422
    problems = {tuple(p["loc"]): (p["type"], p["msg"]) for p in answer.json()["detail"]}
    assert problems[("body", "customer", "id")][0] == "missing_key"
    assert "external_id" in problems[("body", "customer", "id")][1]
    assert problems[("body", "customer", "email")][0] == "wrong_type"
    assert problems[("body", "order", "lines", 1, "qty")] == (
        "wrong_type",
        "field 'qty': expected a whole number, got 'two'",
    )
    assert problems[("body", "event_id")][0] == "missing_event_id"
    _nothing_stored(setup)


def test_unknown_field_is_named(setup: Setup) -> None:
    answer = setup.client(None).post(
        "/webhooks/contacts",
        json={"email": "a@example.com"} | {"name": "A"},
        headers={"Authorization": f"Bearer {setup.token}"},
    )
    assert answer.status_code == 200
    # a webhook without a map takes payload keys as field names: unknown ones are refused
    bad = setup.api.post("/webhooks/standard", content=b"{}")
    assert bad.status_code == 401  # signed webhooks ignore tokens


def test_one_bad_item_of_an_array_stores_nothing(setup: Setup) -> None:
    good, bad = order_payload("e1", "C1", "O1"), order_payload("e2", "C2", "O2")
    bad["order"]["total"] = "lots"
    answer = setup.api.post("/webhooks/orders", json=[good, bad])
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", 1, "order", "total"]
    _nothing_stored(setup)


def test_body_that_is_not_json(setup: Setup) -> None:
    answer = setup.api.post("/webhooks/orders", content=b"{not json")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"


def test_stopped_flow_answers_409_and_stores_nothing(setup: Setup) -> None:
    answer = setup.api.post("/webhooks/paused", json={"id": "C1"})
    assert answer.status_code == 409
    assert "sluis start paused" in answer.json()["detail"]
    _nothing_stored(setup)


def test_unknown_endpoint(setup: Setup) -> None:
    answer = setup.api.post("/webhooks/nope", json={})
    assert answer.status_code == 404
    assert "no webhook endpoint 'nope'" in answer.json()["detail"]
    assert "orders" not in answer.json()["detail"]


# -- body size -----------------------------------------------------------------------------------


def test_oversize_body_is_refused_before_parsing(sqlite_setup: Setup) -> None:
    big = b'{"x": "' + b"a" * 30_000 + b'"}'
    answer = sqlite_setup.api.post(
        "/webhooks/orders", content=big, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert "20000 bytes" in answer.json()["detail"]


def test_oversize_body_without_content_length(sqlite_setup: Setup) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # sent chunked, without a Content-Length
        for _ in range(30):
            yield b"a" * 1000

    answer = sqlite_setup.api.post("/webhooks/orders", content=chunks())
    assert answer.status_code == 413


# -- tokens ---------------------------------------------------------------------------------------


def _post(setup: Setup, token: str | None, endpoint: str = "orders", event: str = "e1") -> object:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return setup.client(None).post(
        f"/webhooks/{endpoint}", json=order_payload(event), headers=headers
    )


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("missing", 401, "missing token"),
        ("wrong", 401, "unknown token"),
        ("revoked", 401, "was revoked"),
        ("expired", 401, "expired on"),
        ("lapsed", 401, "inactive since"),
        ("other-webhook", 403, "is for webhook 'contacts', not 'orders'"),
        ("webhook-token", 200, ""),
        ("general-token", 200, ""),
        ("service-never-lapses", 200, ""),
    ],
)
def test_auth_matrix(sqlite_setup: Setup, case: str, status: int, reason: str) -> None:
    setup = sqlite_setup
    old = datetime.now(UTC) - timedelta(days=400)
    token: str | None
    if case == "missing":
        token = None
    elif case == "wrong":
        token = "sluis_wrong"
    elif case == "other-webhook":
        _, token = setup.make_token(webhook="contacts")
    elif case == "webhook-token":
        _, token = setup.make_token(webhook="orders")
    elif case == "general-token":
        token = setup.token
    else:
        service = case == "service-never-lapses"
        _token_id, token = setup.make_token(
            "ann" if not service else "robot", service=service, webhook="orders"
        )
        with setup.store.db.write() as conn:
            tokens, users = TOKENS, USERS
            if case == "revoked":
                conn.execute(update(tokens).values(revoked_at=datetime.now(UTC)))
            elif case == "expired":
                conn.execute(update(tokens).values(expires_at=datetime.now(UTC)))
            else:
                conn.execute(update(users).values(last_activity_at=old, created_at=old))
    answer = _post(setup, token)
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    if reason:
        assert reason in answer.json()["detail"]  # type: ignore[attr-defined]
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")  # type: ignore[attr-defined]


def test_lapsed_user_works_again_after_reactivation(sqlite_setup: Setup) -> None:
    from engine.store.tokens import reactivate_user

    setup = sqlite_setup
    _, token = setup.make_token("ann", service=False)
    old = datetime.now(UTC) - timedelta(days=61)
    with setup.store.db.write() as conn:
        conn.execute(update(USERS).values(last_activity_at=old))
    assert _post(setup, token).status_code == 401  # type: ignore[attr-defined]
    with setup.store.db.write() as conn:
        reactivate_user(conn, "ann", datetime.now(UTC))
    assert _post(setup, token).status_code == 200  # type: ignore[attr-defined]


def test_requests_record_last_activity(sqlite_setup: Setup) -> None:
    setup = sqlite_setup
    _, token = setup.make_token("ann", service=False)
    before = datetime.now(UTC) - timedelta(minutes=10)
    with setup.store.db.write() as conn:
        conn.execute(update(USERS).values(last_activity_at=before))
    assert setup.client(token).get("/api/v1/flows").status_code == 200
    with setup.store.db.read() as conn:
        seen = conn.execute(
            select(USERS.c.last_activity_at).where(USERS.c.name == "ann")
        ).scalar_one()
    assert seen > before + timedelta(minutes=9)


def test_webhook_token_does_not_reach_the_rest_api(sqlite_setup: Setup) -> None:
    _, token = sqlite_setup.make_token(webhook="orders")
    answer = sqlite_setup.client(token).get("/api/v1/flows")
    assert answer.status_code == 403
    assert "only" in answer.json()["detail"]


# -- HMAC signatures ---------------------------------------------------------------------------

SHOP_ORDER = {"id": 4711, "email": "s@example.com", "total_price": "99.95", "customer": {"id": 7}}


def _shopify(setup: Setup, body: bytes, signature: str) -> object:
    return setup.client(None).post(
        "/webhooks/shopify",
        content=body,
        headers={"X-Shopify-Hmac-Sha256": signature, "Content-Type": "application/json"},
    )


def test_shopify_signature_valid(setup: Setup) -> None:
    body = json.dumps(SHOP_ORDER).encode()
    answer = _shopify(setup, body, shopify_signature(body))
    assert answer.status_code == 200, answer.text  # type: ignore[attr-defined]
    [record_id] = answer.json()["records"]  # type: ignore[attr-defined]
    record = setup.api.get("/api/v1/datamodel/orders/4711").json()
    assert record["id"] == record_id and record["data"]["total"] == "99.95"


def test_shopify_signature_tampered_body(sqlite_setup: Setup) -> None:
    body = json.dumps(SHOP_ORDER).encode()
    signature = shopify_signature(body)
    tampered = body.replace(b"99.95", b"0.01")
    answer = _shopify(sqlite_setup, tampered, signature)
    assert answer.status_code == 401  # type: ignore[attr-defined]
    assert "does not match" in answer.json()["detail"]  # type: ignore[attr-defined]
    assert _shopify(sqlite_setup, body, "").status_code == 401  # type: ignore[attr-defined]
    _nothing_stored(sqlite_setup)


def test_shopify_signature_with_a_token_only_is_refused(sqlite_setup: Setup) -> None:
    answer = sqlite_setup.api.post("/webhooks/shopify", json=SHOP_ORDER)
    assert answer.status_code == 401
    assert "X-Shopify-Hmac-Sha256" in answer.json()["detail"]


def test_standard_webhooks_valid(setup: Setup) -> None:
    body = json.dumps({"type": "contact.created", "data": {"email": "std@example.com"}}).encode()
    answer = setup.client(None).post(
        "/webhooks/standard", content=body, headers=standard_headers(body)
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["customers"]) == 1


def test_standard_webhooks_tampered_body(sqlite_setup: Setup) -> None:
    body = json.dumps({"data": {"email": "std@example.com"}}).encode()
    headers = standard_headers(body)
    answer = sqlite_setup.client(None).post(
        "/webhooks/standard", content=body.replace(b"std@", b"evil@"), headers=headers
    )
    assert answer.status_code == 401
    assert "does not match" in answer.json()["detail"]
    _nothing_stored(sqlite_setup)


def test_standard_webhooks_stale_timestamp(sqlite_setup: Setup) -> None:
    body = json.dumps({"data": {"email": "std@example.com"}}).encode()
    headers = standard_headers(body, at=time.time() - 301)
    answer = sqlite_setup.client(None).post("/webhooks/standard", content=body, headers=headers)
    assert answer.status_code == 401
    assert "tolerance 300 s" in answer.json()["detail"]
    _nothing_stored(sqlite_setup)


def test_concurrent_deliveries_of_one_event_store_it_once(setup: Setup) -> None:
    """Two servers (threads here, each with its own transaction) get the same event at once:
    one stores it, the other answers as a redelivery."""
    from api.batching import Call, _one
    from engine.webhooks.receive import map_body

    state = setup.app.state.sluis
    endpoint = state.webhooks["orders"]
    items = map_body(endpoint.spec, order_payload("race"), setup.project)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def deliver() -> None:
        barrier.wait()
        # bypass the in-process lock, as two processes would
        outcomes.append(_one_unlocked(state, Call(endpoint, items, None)))  # type: ignore[arg-type]

    def _one_unlocked(state: object, call: Call) -> object:
        state.write = state.store.db.write  # type: ignore[attr-defined]
        return _one(state, call)  # type: ignore[arg-type]

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(o, list) for o in outcomes), outcomes
    flags = sorted(o[0].duplicate for o in outcomes)  # type: ignore[index]
    assert flags == [False, True]
    assert _count(setup, JOURNEYS) == 1
